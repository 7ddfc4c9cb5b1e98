//! The privacy boundary (个人信息保护法): what may leave the community that holds residents' data.
//!
//! Residents' names, phone numbers, addresses and ID numbers (reporters, households) stay on the
//! community node that took them. The rule, one function per door:
//!
//! 1. Rollups carry counts only, keyed by codes and ids ([`rollup_may_carry`]): no names, phones,
//!    addresses or notes, of residents or of workers.
//! 2. A case sent to another node carries the reporter's data only when ([`reporter_may_travel`]):
//!    a field of the case needs it ([`Need`]: a callback, a meeting on site, a petition), and the
//!    receiving node is allowed it: a node below the sender (it is closer to the resident), a node
//!    that already held it (the case came down through it, as a 12345 ticket from the district does),
//!    or an ancestor no higher than the policy's level (the street by default; the district only when
//!    the node's policy says so). Sideways, never. Otherwise the reporter is cut from the copy
//!    ([`redact_reporter`]), and mobile numbers typed into free text are masked ([`mask_phones_in`]).
//! 3. Workers' phone numbers are shown whole to the keeper's own operators only ([`phone_for`]);
//!    everyone else, the street and district included, sees 138****1234.

use serde::{Deserialize, Serialize};

use super::phone::{mask_phone, Phone};
use crate::access::{AccessRole, Grant};
use crate::case::Case;
use crate::code::{Code, Level};

/// A kind of data, for the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Datum {
    /// Counts and rates.
    Count,
    /// Codes and ids: grids, micro-grids, workers, households, cases (no personal data by themselves).
    Id,
    /// A worker's name.
    WorkerName,
    /// A worker's phone number.
    WorkerPhone,
    /// A resident's name (reporter, household).
    ResidentName,
    /// A resident's phone number.
    ResidentPhone,
    /// A resident's address.
    ResidentAddress,
    /// A resident's ID number (身份证号).
    ResidentIdNumber,
    /// Free text written about residents: visit notes.
    Note,
}

/// True when a rollup (figures pushed to the parent) may carry `datum`: counts, keyed by ids.
pub fn rollup_may_carry(datum: Datum) -> bool {
    matches!(datum, Datum::Count | Datum::Id)
}

/// Why a field of a case needs the reporter's data at the receiving node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// The handler must call the reporter back (回访).
    Callback,
    /// The handler must meet the reporter on site.
    OnSite,
    /// A petition (信访): the petitioner's identity is part of the matter.
    Petition,
}

/// How far up reporter data may travel by escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyPolicy {
    /// The highest level an escalated case may carry reporter data to (street by default).
    pub reporter_up_to: Level,
}

impl Default for PrivacyPolicy {
    fn default() -> Self {
        PrivacyPolicy { reporter_up_to: Level::Street }
    }
}

/// Why the reporter's data stays behind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Withheld {
    /// No field of the case needs it.
    #[error("no field of the case needs the reporter's data")]
    NotNeeded,
    /// The receiving node is above the policy's level.
    #[error("node {to} is a {level}; reporter data goes no higher than the {limit}")]
    AboveLimit {
        /// The receiving node.
        to: Code,
        /// Its level.
        level: Level,
        /// The highest level reporter data may reach under the policy (`reporter_up_to`).
        limit: Level,
    },
    /// The receiving node is neither above nor below the sender.
    #[error("node {to} is neither above nor below node {from}")]
    Sideways {
        /// The sending node.
        from: Code,
        /// The receiving node, in another branch of the tree.
        to: Code,
    },
}

/// May a case at `from`, whose reporter data entered at `origin`, carry it to `to` for `need`?
pub fn reporter_may_travel(
    from: &Code,
    to: &Code,
    origin: &Code,
    need: Option<Need>,
    policy: &PrivacyPolicy,
) -> Result<(), Withheld> {
    if need.is_none() {
        return Err(Withheld::NotNeeded);
    }
    let (below, above) = (to.is_within(from), from.is_within(to));
    // Cases move hop by hop between parent and child, so every node between the origin and the sender
    // held the data on the way.
    let held_before = above && to.is_within(origin);
    if below || held_before {
        return Ok(());
    }
    if !above {
        return Err(Withheld::Sideways { from: from.clone(), to: to.clone() });
    }
    // Levels order District < Street < Community: "no higher than" is "not before".
    if to.level() < policy.reporter_up_to {
        return Err(Withheld::AboveLimit { to: to.clone(), level: to.level(), limit: policy.reporter_up_to });
    }
    Ok(())
}

/// Text shown where a reporter was cut from a case.
pub const REDACTED: &str = "(已隐去)";

/// The copy of `case` to send when its reporter data may not travel: the reporter cut, and mobile
/// numbers in the title, description, address and audit notes masked.
pub fn redact_reporter(case: &Case) -> Case {
    let mut c = case.clone();
    if !c.reporter.is_empty() {
        c.reporter = REDACTED.to_string();
    }
    c.title = mask_phones_in(&c.title);
    c.description = mask_phones_in(&c.description);
    if let Some(loc) = c.location.as_mut() {
        loc.address = mask_phones_in(&loc.address);
    }
    for a in &mut c.audit {
        a.note = mask_phones_in(&a.note);
    }
    c
}

/// Masks every mainland mobile number in `text`: a run of exactly 11 ASCII digits `1[3-9]…`, not part
/// of a longer number (`请联系13812341234` → `请联系138****1234`).
pub fn mask_phones_in(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let is_mobile = run.len() == 11 && run.starts_with('1') && matches!(run.as_bytes()[1], b'3'..=b'9');
        out.push_str(&if is_mobile { mask_phone(&run) } else { run });
    }
    out
}

/// A worker's phone as `grant` may see it: whole for operators of `keeper` itself (the community, or
/// the street for its own staff), masked for everyone else, viewers and upper levels included.
pub fn phone_for(grant: &Grant, keeper: &Code, phone: &Phone) -> String {
    if grant.role == AccessRole::Operator && &grant.scope == keeper {
        phone.full().to_string()
    } else {
        phone.masked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Via;
    use crate::case::{AuditEntry, CaseState, Location};
    use crate::workflow::tests::new_case;

    fn code(s: &str) -> Code {
        Code::parse("c", s).unwrap()
    }

    #[test]
    fn rollups_carry_counts_only() {
        assert!(rollup_may_carry(Datum::Count) && rollup_may_carry(Datum::Id));
        for d in [
            Datum::WorkerName,
            Datum::WorkerPhone,
            Datum::ResidentName,
            Datum::ResidentPhone,
            Datum::ResidentAddress,
            Datum::ResidentIdNumber,
            Datum::Note,
        ] {
            assert!(!rollup_may_carry(d), "{d:?}");
        }
    }

    #[test]
    fn reporter_data_travels_only_when_needed_and_allowed() {
        let (community, street, district) = (code("370102001001"), code("370102001"), code("370102"));
        let p = PrivacyPolicy::default();
        let need = Some(Need::Callback);
        // Reported in the community, escalated: to the street if needed, never to the district.
        assert_eq!(reporter_may_travel(&community, &street, &community, None, &p), Err(Withheld::NotNeeded));
        assert_eq!(reporter_may_travel(&community, &street, &community, need, &p), Ok(()));
        let err = reporter_may_travel(&street, &district, &community, need, &p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "node 370102 is a district; reporter data goes no higher than the street"
        );
        let open = PrivacyPolicy { reporter_up_to: Level::District };
        assert_eq!(reporter_may_travel(&street, &district, &community, need, &open), Ok(()));
        // A 12345 ticket that came down from the district may go back up with its caller's data.
        assert_eq!(reporter_may_travel(&community, &district, &district, need, &p), Ok(()));
        // Down to a child, when needed; sideways never.
        assert_eq!(reporter_may_travel(&street, &community, &street, need, &p), Ok(()));
        let err = reporter_may_travel(&community, &code("370102001002"), &community, need, &p).unwrap_err();
        assert!(matches!(err, Withheld::Sideways { .. }));
    }

    #[test]
    fn redaction_cuts_the_reporter_and_masks_numbers_in_text() {
        assert_eq!(mask_phones_in("请联系13812341234,或0531-86661234"), "请联系138****1234,或0531-86661234");
        assert_eq!(mask_phones_in("单号138123412345678"), "单号138123412345678");
        assert_eq!(mask_phones_in("电话15953101234。"), "电话159****1234。");
        let mut case = new_case("370102001001-20261125-000001", 0);
        case.description = "居民周女士反映, 电话13905312468, 3号楼楼道堆放杂物".into();
        case.location = Some(Location { lat: None, lon: None, address: "山大路47号3号楼".into() });
        case.reporter = "周女士 13905312468".into();
        case.audit.push(AuditEntry {
            at: 0,
            actor: "刘晓燕".into(),
            action: "register".into(),
            from: None,
            to: CaseState::Registered,
            note: "已电话13905312468联系".into(),
            by: String::new(),
        });
        let r = redact_reporter(&case);
        assert_eq!(r.reporter, REDACTED);
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("13905312468") && !text.contains("周女士 "), "{text}");
        assert!(r.description.contains("139****2468"));
    }

    #[test]
    fn phones_are_whole_for_the_keepers_own_operators_only() {
        let phone = Phone::parse("phone", "13812341234").unwrap();
        let keeper = code("370102001001");
        let grant = |scope: &str, role| Grant { scope: code(scope), role, via: Via::Certificate };
        assert_eq!(phone_for(&grant("370102001001", AccessRole::Operator), &keeper, &phone), "13812341234");
        assert_eq!(phone_for(&grant("370102001001", AccessRole::Viewer), &keeper, &phone), "138****1234");
        assert_eq!(phone_for(&grant("370102001", AccessRole::Operator), &keeper, &phone), "138****1234");
        assert_eq!(phone_for(&grant("370102", AccessRole::Operator), &keeper, &phone), "138****1234");
        assert_eq!(phone_for(&grant("370102001002", AccessRole::Operator), &keeper, &phone), "138****1234");
    }
}
