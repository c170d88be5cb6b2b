//! Random texts for the detectors' robustness tests: mixes of the fragments the scanners key
//! on, multi-byte characters and separators.

const PIECES: &[&str] = &[
    "sk-",
    "sk-ant-",
    "AKIA",
    "ghp_",
    "eyJ",
    "-----BEGIN ",
    "PRIVATE KEY-----",
    "-----END ",
    "password",
    "=",
    ": ",
    "\"",
    "'",
    "Bearer ",
    "@",
    ".",
    ":",
    "::",
    "+49 ",
    "(",
    ")",
    "-",
    " ",
    "\n",
    "\\n",
    "ü",
    "€",
    "🙂",
    "ß",
    "’",
    "Dear ",
    "Mr. ",
    "my name is ",
    " from ",
    "Regards,\n",
    "Anna",
    "Müller",
    "DE89",
    "4111",
    "0",
    "12",
    "123",
    "4567",
    "abc",
    "XYZ",
    "Q9z",
    "_",
    "/",
    "#",
    "SSN ",
    "IBAN ",
];

/// 3000 deterministic random texts.
pub(crate) fn texts() -> Vec<String> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut out = Vec::with_capacity(3000);
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..(state % 40) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(text);
    }
    out
}

/// Checks that `spans` of `text` are sorted, disjoint, non-empty and on character boundaries.
pub(crate) fn assert_well_formed(text: &str, spans: &[(usize, usize)]) {
    assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "{text:?}");
    for &(start, end) in spans {
        assert!(start < end && text.is_char_boundary(start) && text.is_char_boundary(end), "{text:?}");
    }
}
