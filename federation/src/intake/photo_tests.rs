//! Tests of photo checks: real PNGs from the stored-deflate writer, JPEG headers built segment by
//! segment, and the damage an upload can carry.

use super::*;

/// A JPEG's header: SOI, a JFIF APP0, a DQT, a baseline SOF0 of `w` × `h` with 3 components, then the
/// start of scan, some data and EOI.
pub(crate) fn jpeg_header(w: u16, h: u16) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8];
    b.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
    b.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    b.extend(std::iter::repeat_n(1u8, 64));
    b.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 8]);
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    b.extend_from_slice(&[
        0xFF, 0xDA, 0x00, 0x0C, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3F, 0, 0x12, 0x34, 0xFF, 0xD9,
    ]);
    b
}

#[test]
fn a_png_is_read_with_its_size() {
    let png = encode_png(64, 48, |x, y| [x as u8 * 4, y as u8 * 5, 128]);
    let info = inspect("photo", &png, DEFAULT_MAX_PHOTO_BYTES).unwrap();
    assert_eq!(info, ImageInfo { image_type: ImageType::Png, width: 64, height: 48 });
    // Larger than one stored block still ends with IEND and reads back.
    let big = encode_png(300, 200, |_, _| [1, 2, 3]);
    assert_eq!(inspect("photo", &big, DEFAULT_MAX_PHOTO_BYTES).unwrap().width, 300);
}

#[test]
fn a_jpeg_frame_header_is_found_past_other_segments() {
    let info = inspect("photo", &jpeg_header(4032, 3024), DEFAULT_MAX_PHOTO_BYTES).unwrap();
    assert_eq!(info, ImageInfo { image_type: ImageType::Jpeg, width: 4032, height: 3024 });
    // A progressive frame (SOF2) counts too.
    let mut progressive = jpeg_header(10, 20);
    let sof = progressive.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    progressive[sof + 1] = 0xC2;
    assert_eq!(inspect("photo", &progressive, DEFAULT_MAX_PHOTO_BYTES).unwrap().height, 20);
}

#[test]
fn other_files_and_damaged_images_are_refused_naming_the_field() {
    let err = |b: &[u8]| inspect("photos[1]", b, DEFAULT_MAX_PHOTO_BYTES).unwrap_err();
    assert!(matches!(err(b""), PhotoError::Empty { .. }));
    let gif = err(b"GIF89a\x01\x00\x01\x00");
    assert!(matches!(gif, PhotoError::NotAnImage { .. }), "{gif}");
    assert!(gif.to_string().starts_with("photos[1]: not a JPEG or PNG image (the first bytes are 47 49 46"));
    assert!(matches!(err(b"%PDF-1.7 ..."), PhotoError::NotAnImage { .. }));

    let png = encode_png(8, 8, |_, _| [0, 0, 0]);
    let mut bad_crc = png.clone();
    bad_crc[17] ^= 1; // the width, under the IHDR checksum
    assert!(err(&bad_crc).to_string().contains("checksum"), "{}", err(&bad_crc));
    let truncated = &png[..png.len() - 20];
    assert!(err(truncated).to_string().contains("IEND"), "{}", err(truncated));

    let jpeg = jpeg_header(100, 100);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    assert!(err(&jpeg[..sof + 6]).to_string().contains("ends inside the frame header"));
    let no_frame: Vec<u8> = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9].to_vec();
    assert!(matches!(err(&no_frame), PhotoError::Damaged { kind: "JPEG", .. }));
    let zero = jpeg_header(0, 100);
    assert!(err(&zero).to_string().contains("not a photo size"), "{}", err(&zero));
}

#[test]
fn size_is_limited_by_the_node_and_absolutely() {
    let png = encode_png(32, 32, |_, _| [9, 9, 9]);
    let e = inspect("photo", &png, 100).unwrap_err();
    assert_eq!(e, PhotoError::TooLarge { field: "photo".into(), bytes: png.len() as u64, max: 100 });
    assert!(inspect("photo", &png, u64::MAX).is_ok());
}

#[test]
fn metadata_is_checked_by_field_and_photos_are_not_attached_twice() {
    let png = encode_png(4, 4, |_, _| [200, 0, 0]);
    let p = Photo::of(&png, inspect("p", &png, DEFAULT_MAX_PHOTO_BYTES).unwrap(), PhotoKind::Before);
    assert_eq!(p.sha256, sha256_hex(&png));
    assert!(is_sha256(&p.sha256) && !is_sha256("ABC"));
    check_new(std::slice::from_ref(&p), PhotoKind::Before, &[], DEFAULT_MAX_PHOTO_BYTES).unwrap();
    let field = |r: Refusal| match r {
        Refusal::Invalid { field, .. } => field,
        other => panic!("{other:?}"),
    };
    let e = check_new(&[p.clone(), p.clone()], PhotoKind::Before, &[], DEFAULT_MAX_PHOTO_BYTES).unwrap_err();
    assert_eq!(field(e), "photos[1].sha256");
    let e = check_new(std::slice::from_ref(&p), PhotoKind::After, &[], DEFAULT_MAX_PHOTO_BYTES).unwrap_err();
    assert_eq!(field(e), "photos[0].kind");
    let mut upper = p.clone();
    upper.sha256 = upper.sha256.to_uppercase();
    let e = check_new(&[upper], PhotoKind::Before, &[], DEFAULT_MAX_PHOTO_BYTES).unwrap_err();
    assert_eq!(field(e), "photos[0].sha256");
    let e = check_new(std::slice::from_ref(&p), PhotoKind::Before, &[], 10).unwrap_err();
    assert_eq!(field(e), "photos[0].bytes");
    // A height too large was refused under `.width`.
    let tall = Photo { height: MAX_DIMENSION + 1, ..p.clone() };
    assert_eq!(field(tall.check("photos[0]", u64::MAX).unwrap_err()), "photos[0].height");
    let wide = Photo { width: MAX_DIMENSION + 1, ..p.clone() };
    assert_eq!(field(wide.check("photos[0]", u64::MAX).unwrap_err()), "photos[0].width");
    let many = vec![p.clone(); MAX_PHOTOS_PER_STEP + 1];
    assert_eq!(field(check_new(&many, PhotoKind::Before, &[], u64::MAX).unwrap_err()), "photos");
    let json = serde_json::to_string(&p).unwrap();
    assert!(
        json.contains("\"content_type\":\"image/png\"") && json.contains("\"kind\":\"before\""),
        "{json}"
    );
    assert_eq!(ImageType::parse("t", "image/JPG").unwrap(), ImageType::Jpeg);
    assert!(ImageType::parse("t", "image/gif").unwrap_err().starts_with("t: "));
}
