//! Photos of a case (处置前 / 处置后): what the replicated log carries about one (its SHA-256, kind,
//! type, size and pixel size, never its bytes), and the check that uploaded bytes are a JPEG or PNG
//! image: the magic bytes, then the header decoded far enough to read the image's dimensions.
//!
//! ```text
//! PNG   89 50 4E 47 0D 0A 1A 0A, an IHDR chunk (13 bytes, CRC checked) first, an IEND chunk last
//! JPEG  FF D8, then marker segments up to a start-of-frame (SOF0..SOF15 but DHT, JPG, DAC) giving
//!       height, width and 1, 3 or 4 components
//! ```
//! Nothing here decodes pixels; no image library is needed.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::code::Code;
use crate::machine::{invalid, Refusal};
use crate::Millis;

/// Largest photo any node accepts, whatever its configuration says (`[intake] photo_max_bytes` is at
/// most this).
pub const ABSOLUTE_MAX_PHOTO_BYTES: u64 = 20 * 1024 * 1024;
/// Default `[intake] photo_max_bytes`.
pub const DEFAULT_MAX_PHOTO_BYTES: u64 = 5 * 1024 * 1024;
/// Photos one report or one action may carry.
pub const MAX_PHOTOS_PER_STEP: usize = 8;
/// Photos one case may carry in all.
pub const MAX_PHOTOS_PER_CASE: usize = 32;
/// Largest width or height accepted, in pixels.
pub const MAX_DIMENSION: u32 = 30_000;

/// Before handling (a report's photo) or after (处置后, with feedback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoKind {
    /// 处置前: what the reporter saw.
    Before,
    /// 处置后: the result of handling.
    After,
}

impl PhotoKind {
    /// `before` or `after`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoKind::Before => "before",
            PhotoKind::After => "after",
        }
    }

    /// Parses `before` or `after`, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<PhotoKind, String> {
        match s {
            "before" => Ok(PhotoKind::Before),
            "after" => Ok(PhotoKind::After),
            other => Err(format!("{field}: {other:?} is not a photo kind; expected before or after")),
        }
    }
}

impl fmt::Display for PhotoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The image formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImageType {
    /// `image/jpeg`: the usual camera photo.
    #[serde(rename = "image/jpeg")]
    Jpeg,
    /// `image/png`: screenshots, and the images demos and tests draw.
    #[serde(rename = "image/png")]
    Png,
}

impl ImageType {
    /// The MIME type, served as the photo's `Content-Type`.
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
        }
    }

    /// Parses a MIME type (`image/jpeg`, `image/jpg`, `image/png`), naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<ImageType, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Ok(ImageType::Jpeg),
            "image/png" => Ok(ImageType::Png),
            other => Err(format!("{field}: {other:?} is not accepted; photos are image/jpeg or image/png")),
        }
    }
}

/// What the bytes of an upload turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// JPEG or PNG, from the magic bytes.
    pub image_type: ImageType,
    /// Width in pixels, from the header (1 to `MAX_DIMENSION`).
    pub width: u32,
    /// Height in pixels, from the header (1 to `MAX_DIMENSION`).
    pub height: u32,
}

/// Why uploaded bytes are not accepted as a photo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// The upload has no bytes.
    #[error("{field}: the photo is empty")]
    Empty {
        /// The field (form part) the photo came in.
        field: String,
    },
    /// The upload is larger than the node accepts.
    #[error("{field}: the photo is {bytes} bytes; at most {max} are accepted")]
    TooLarge {
        /// The field (form part) the photo came in.
        field: String,
        /// Its size.
        bytes: u64,
        /// The limit: the node's `photo_max_bytes`, capped by `ABSOLUTE_MAX_PHOTO_BYTES`.
        max: u64,
    },
    /// The bytes start with neither the JPEG nor the PNG signature.
    #[error("{field}: not a JPEG or PNG image (the first bytes are {magic})")]
    NotAnImage {
        /// The field (form part) the photo came in.
        field: String,
        /// Its first 8 bytes in hex (`47 49 46 38 ...`), to tell what it is.
        magic: String,
    },
    /// The signature is right but the header is not (truncated, bad checksum, impossible size).
    #[error("{field}: a damaged {kind} image: {reason}")]
    Damaged {
        /// The field (form part) the photo came in.
        field: String,
        /// `JPEG` or `PNG`.
        kind: &'static str,
        /// What is wrong with the header.
        reason: String,
    },
}

/// Checks that `bytes` are one JPEG or PNG image of at most `max_bytes`, and reads its header.
pub fn inspect(field: &str, bytes: &[u8], max_bytes: u64) -> Result<ImageInfo, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty { field: field.to_string() });
    }
    let max = max_bytes.min(ABSOLUTE_MAX_PHOTO_BYTES);
    if bytes.len() as u64 > max {
        return Err(PhotoError::TooLarge { field: field.to_string(), bytes: bytes.len() as u64, max });
    }
    let damaged = |kind, reason: String| PhotoError::Damaged { field: field.to_string(), kind, reason };
    let info = if bytes.starts_with(PNG_SIGNATURE) {
        png(bytes).map_err(|r| damaged("PNG", r))?
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg(bytes).map_err(|r| damaged("JPEG", r))?
    } else {
        let magic = bytes.iter().take(8).map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ");
        return Err(PhotoError::NotAnImage { field: field.to_string(), magic });
    };
    if info.width == 0 || info.height == 0 || info.width > MAX_DIMENSION || info.height > MAX_DIMENSION {
        return Err(damaged(
            if info.image_type == ImageType::Png { "PNG" } else { "JPEG" },
            format!("{} × {} pixels is not a photo size (1 to {MAX_DIMENSION})", info.width, info.height),
        ));
    }
    Ok(info)
}

const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The IHDR chunk (right after the signature) and the IEND chunk at the end.
fn png(b: &[u8]) -> Result<ImageInfo, String> {
    let short = || "the file ends inside its header".to_string();
    let len = be32(b, 8).ok_or_else(short)?;
    if len != 13 || b.get(12..16) != Some(b"IHDR") {
        return Err("the first chunk is not a 13-byte IHDR".into());
    }
    let data = b.get(12..29).ok_or_else(short)?; // type + 13 bytes of data
    let crc = be32(b, 29).ok_or_else(short)?;
    if crc32(data) != crc {
        return Err("the IHDR chunk's checksum does not match".into());
    }
    let (width, height) = (be32(b, 16).ok_or_else(short)?, be32(b, 20).ok_or_else(short)?);
    let (depth, color) = (b[24], b[25]);
    let depth_ok = match color {
        0 => [1, 2, 4, 8, 16].contains(&depth),
        3 => [1, 2, 4, 8].contains(&depth),
        2 | 4 | 6 => [8, 16].contains(&depth),
        _ => false,
    };
    if !depth_ok || b[26] != 0 || b[27] != 0 || b[28] > 1 {
        return Err(format!("IHDR has colour type {color}, bit depth {depth}: not a valid combination"));
    }
    if b.len() < 57 || b[b.len() - 12..b.len() - 4] != [0, 0, 0, 0, b'I', b'E', b'N', b'D'] {
        return Err("it does not end with an IEND chunk (truncated?)".into());
    }
    Ok(ImageInfo { image_type: ImageType::Png, width, height })
}

/// Walks the marker segments up to the first start-of-frame.
fn jpeg(b: &[u8]) -> Result<ImageInfo, String> {
    let mut at = 2;
    loop {
        // Fill bytes (FF FF ...) may precede a marker.
        while b.get(at) == Some(&0xFF) && b.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (b.get(at), b.get(at + 1)) else {
            return Err(format!("no marker at byte {at} before a frame header"));
        };
        match marker {
            // Markers without a length: TEM, RSTn.
            0x01 | 0xD0..=0xD7 => {
                at += 2;
                continue;
            }
            0xD9 | 0xDA => return Err("the image data starts before any frame header".into()),
            _ => {}
        }
        let len = be16(b, at + 2).ok_or("the file ends inside a segment header")? as usize;
        if len < 2 {
            return Err(format!("segment {marker:02X} at byte {at} has length {len}"));
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let seg = b.get(at + 4..at + 2 + len).ok_or("the file ends inside the frame header")?;
            if seg.len() < 6 {
                return Err("the frame header is too short".into());
            }
            let height = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
            let width = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
            let components = seg[5];
            if ![1, 3, 4].contains(&components) || seg.len() < 6 + 3 * components as usize {
                return Err(format!("the frame header names {components} colour components"));
            }
            return Ok(ImageInfo { image_type: ImageType::Jpeg, width, height });
        }
        at += 2 + len;
        if at >= b.len() {
            return Err("the file ends before a frame header".into());
        }
    }
}

/// CRC-32 (ISO-HDLC, as PNG uses).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// SHA-256 of `bytes`, 64 lowercase hex digits: a photo's name.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// True for 64 lowercase hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A photo of a case, as the replicated state keeps it: never its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    /// SHA-256 of the bytes (lowercase hex): the file's name in every replica's photo directory.
    pub sha256: String,
    /// Before handling (with the report) or after (with the handler's feedback).
    pub kind: PhotoKind,
    /// JPEG or PNG, as the bytes were checked to be; served as the photo's `Content-Type`.
    pub content_type: ImageType,
    /// Size of the file.
    pub bytes: u64,
    /// Width in pixels, from the checked header; 0 when the sender did not give it.
    #[serde(default)]
    pub width: u32,
    /// Height in pixels, from the checked header; 0 when the sender did not give it.
    #[serde(default)]
    pub height: u32,
    /// The node whose replicas stored it first (where it was uploaded); a node missing it fetches it
    /// along the links toward this node. Set by the state machine.
    #[serde(default)]
    pub home: Option<Code>,
    /// When it was attached (the leader's clock). Set by the state machine.
    #[serde(default)]
    pub at: Millis,
}

impl Photo {
    /// The metadata of checked bytes of `kind`.
    pub fn of(bytes: &[u8], info: ImageInfo, kind: PhotoKind) -> Photo {
        Photo {
            sha256: sha256_hex(bytes),
            kind,
            content_type: info.image_type,
            bytes: bytes.len() as u64,
            width: info.width,
            height: info.height,
            home: None,
            at: 0,
        }
    }

    /// Checks the metadata a client or a neighbour sent, naming `field`.
    pub fn check(&self, field: &str, max_bytes: u64) -> Result<(), Refusal> {
        if !is_sha256(&self.sha256) {
            return Err(invalid(&format!("{field}.sha256"), "must be 64 lowercase hex digits (SHA-256)"));
        }
        let max = max_bytes.min(ABSOLUTE_MAX_PHOTO_BYTES);
        if self.bytes == 0 || self.bytes > max {
            return Err(invalid(&format!("{field}.bytes"), format!("{} is outside 1 to {max}", self.bytes)));
        }
        // 0: not given by the sender.
        for (name, n) in [("width", self.width), ("height", self.height)] {
            if n > MAX_DIMENSION {
                return Err(invalid(
                    &format!("{field}.{name}"),
                    format!("{n} is more than {MAX_DIMENSION} pixels"),
                ));
            }
        }
        Ok(())
    }
}

/// Checks the photos a report or an action brings, and that the case stays within its bound: they
/// must be of `kind`, at most [`MAX_PHOTOS_PER_STEP`], none twice.
pub fn check_new(
    photos: &[Photo],
    kind: PhotoKind,
    already: &[Photo],
    max_bytes: u64,
) -> Result<(), Refusal> {
    if photos.len() > MAX_PHOTOS_PER_STEP {
        return Err(invalid("photos", format!("at most {MAX_PHOTOS_PER_STEP} at a time")));
    }
    if already.len() + photos.len() > MAX_PHOTOS_PER_CASE {
        return Err(invalid("photos", format!("a case carries at most {MAX_PHOTOS_PER_CASE} photos")));
    }
    for (i, p) in photos.iter().enumerate() {
        let field = format!("photos[{i}]");
        p.check(&field, max_bytes)?;
        if p.kind != kind {
            return Err(invalid(&format!("{field}.kind"), format!("must be {kind} here, not {}", p.kind)));
        }
        let twice = photos[..i].iter().chain(already).any(|q| q.sha256 == p.sha256);
        if twice {
            return Err(invalid(
                &format!("{field}.sha256"),
                format!("photo {} is attached already", p.sha256),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "photo_tests.rs"]
mod tests;

/// A valid RGB PNG of `width` × `height` pixels coloured by `pixel(x, y)`, written with stored
/// (uncompressed) deflate blocks: for demos and tests, which need real images without an image library.
pub fn encode_png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let mut raw = Vec::with_capacity((height * (1 + 3 * width)) as usize);
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&pixel(x, y));
        }
    }
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = PNG_SIGNATURE.to_vec();
    let mut chunk = |kind: &[u8; 4], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        out.extend_from_slice(&typed);
        out.extend_from_slice(&crc32(&typed).to_be_bytes());
    };
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &z);
    chunk(b"IEND", &[]);
    out
}
