//! Mainland mobile numbers of grid workers and residents, and their masked display (138****1234).
//!
//! A number is kept as its 11 digits; `+86`, `86`, spaces and hyphens are accepted on input. Only the
//! community's own operators see it whole (see `privacy::phone_for`): `Display` and `Debug` mask it,
//! so a number never reaches a log or a rollup by accident. [`Phone::full`] gives the 11 digits.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::field::FieldError;

/// A validated mainland mobile number: 11 digits, `1` then `3`-`9`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses `value` (`13812341234`, `+86 138-1234-1234`), naming `field` in the error.
    pub fn parse(field: &str, value: &str) -> Result<Phone, FieldError> {
        let digits: String = value.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = digits.strip_prefix("+86").or_else(|| digits.strip_prefix("0086")).unwrap_or(&digits);
        let digits = if digits.len() == 13 { digits.strip_prefix("86").unwrap_or(digits) } else { digits };
        let bad =
            |why: &str| FieldError::new(field, format!("{value:?} is not a mainland mobile number: {why}"));
        if digits.len() != 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("expected 11 digits, e.g. 13812341234"));
        }
        if !digits.starts_with('1') || !matches!(digits.as_bytes()[1], b'3'..=b'9') {
            return Err(bad("mobile numbers begin with 13 to 19"));
        }
        Ok(Phone(digits.to_string()))
    }

    /// The 11 digits, for the community's own operators and the phone network only.
    pub fn full(&self) -> &str {
        &self.0
    }

    /// The masked form shown to everyone else: `138****1234`.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

/// Masks a phone number for display: the first 3 and last 4 digits stay, the middle becomes `*`
/// (`13812341234` → `138****1234`). Anything shorter than 8 characters is masked entirely.
pub fn mask_phone(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (&chars[..3], &chars[chars.len() - 4..]);
    let stars = "*".repeat(chars.len() - 7);
    format!("{}{stars}{}", head.iter().collect::<String>(), tail.iter().collect::<String>())
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl TryFrom<String> for Phone {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Phone::parse("phone", &s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_and_masked() {
        for input in ["13812341234", "+86 138 1234 1234", "138-1234-1234", "8613812341234", "008613812341234"]
        {
            let p = Phone::parse("phone", input).unwrap();
            assert_eq!(p.full(), "13812341234", "{input}");
            assert_eq!(p.masked(), "138****1234");
            assert_eq!(p.to_string(), "138****1234");
            assert_eq!(format!("{p:?}"), "Phone(138****1234)");
        }
        assert_eq!(mask_phone("053188881234"), "053*****1234");
        assert_eq!(mask_phone("12345"), "*****");
    }

    #[test]
    fn bad_numbers_name_the_field() {
        for bad in ["", "1381234123", "23812341234", "12812341234", "1381234123x", "138123412345"] {
            let err = Phone::parse("workers[1].phone", bad).unwrap_err();
            assert_eq!(err.field, "workers[1].phone", "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_mobile_masks_to_its_head_and_tail(n in "1[3-9][0-9]{9}") {
            let masked = Phone::parse("phone", &n).unwrap().masked();
            proptest::prop_assert_eq!(masked, format!("{}****{}", &n[..3], &n[7..]));
        }
    }

    #[test]
    fn serde_keeps_the_full_number_for_the_community_store() {
        let p = Phone::parse("phone", "15953101234").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"15953101234\"");
        assert!(serde_json::from_str::<Phone>("\"1595310123\"").is_err());
    }
}
