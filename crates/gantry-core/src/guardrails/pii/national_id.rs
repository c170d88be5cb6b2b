//! Government ids with a checkable structure: the US social security number (SSA rules)
//! and the German tax id (Steuerliche Identifikationsnummer, ISO 7064 MOD 11,10).

use super::context_before;
use super::numbers::{all_digits, Group};

/// Words that, shortly before a bare nine-digit run, make it an SSN.
const SSN_CONTEXT: &[&str] = &["ssn", "social security", "ss#", "soc. sec", "sozialversicherungsnummer"];

/// `AAA-GG-SSSS` (dashes or spaces, the same both times), or nine bare digits shortly after
/// a word naming an SSN; the area is not 000, 666 or 9xx, the group not 00, the serial not
/// 0000.
pub(super) fn is_us_ssn(text: &str, groups: &[Group]) -> bool {
    if groups.iter().any(|g| g.plus || g.paren) {
        return false;
    }
    let lengths: Vec<usize> = groups.iter().map(|g| g.digits.len()).collect();
    let shaped = match lengths.as_slice() {
        [3, 2, 4] => groups[1].sep == groups[2].sep && matches!(groups[1].sep, Some(b'-' | b' ')),
        [9] => groups.first().is_some_and(|g| context_before(text, g.start, 40, SSN_CONTEXT)),
        _ => false,
    };
    let digits = all_digits(groups);
    shaped && ssn_rules(&digits)
}

fn ssn_rules(digits: &str) -> bool {
    let (area, group, serial) = (&digits[..3], &digits[3..5], &digits[5..]);
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

/// Eleven digits, bare or spaced `12 345 678 901` / `123 456 789 01`, passing the tax id's
/// rules.
pub(super) fn is_de_tax_id(groups: &[Group]) -> bool {
    let lengths: Vec<usize> = groups.iter().map(|g| g.digits.len()).collect();
    let shaped = matches!(lengths.as_slice(), [11] | [2, 3, 3, 3] | [3, 3, 3, 2])
        && groups.iter().all(|g| !g.plus && !g.paren)
        && groups.iter().skip(1).all(|g| g.sep == Some(b' '));
    shaped && de_tax_id_valid(&all_digits(groups))
}

/// The first digit is not 0; in the first ten exactly one digit appears twice or three
/// times (three never all adjacent) and the others at most once; the eleventh is the ISO
/// 7064 MOD 11,10 check digit.
fn de_tax_id_valid(digits: &str) -> bool {
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b.wrapping_sub(b'0'))).collect();
    if d.len() != 11 || d.iter().any(|&x| x > 9) || d[0] == 0 {
        return false;
    }
    let mut counts = [0u8; 10];
    for &x in &d[..10] {
        counts[x as usize] += 1;
    }
    let repeated: Vec<usize> = (0..10).filter(|&i| counts[i] > 1).collect();
    let [digit] = repeated.as_slice() else { return false };
    if counts[*digit] > 3 {
        return false;
    }
    if counts[*digit] == 3 && d[..10].windows(3).any(|w| w.iter().all(|&x| x as usize == *digit)) {
        return false;
    }
    let mut product = 10;
    for &x in &d[..10] {
        let mut sum = (x + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = match 11 - product {
        10 => 0,
        c => c,
    };
    d[10] == check
}

#[cfg(test)]
mod tests {
    use super::super::tests::found;
    use super::super::PiiKind;
    use super::*;

    #[test]
    fn ssns_follow_the_ssa_rules() {
        for (text, ssn) in [
            ("SSN: 123-45-6789.", "123-45-6789"),
            ("my social security number is 078 05 1120", "078 05 1120"),
            ("SSN 219099999 (no dashes)", "219099999"),
        ] {
            assert_eq!(found(text), vec![(PiiKind::UsSsn, ssn)], "{text}");
        }
        for negative in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "123-00-4567",
            "123-45-0000",
            "123-45 6789",
            "order 123456789",
            "123456789",
            "account 123-45-678",
            "ticket 123-45-6789",
            "2024-01-15",
        ] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
    }

    #[test]
    fn german_tax_ids_pass_check_digit_and_repetition_rules() {
        for (text, id) in [
            ("Steuer-ID: 65929970489", "65929970489"),
            ("IdNr. 86 095 742 719", "86 095 742 719"),
            ("Identifikationsnummer 860 957 427 19", "860 957 427 19"),
        ] {
            assert_eq!(found(text), vec![(PiiKind::DeTaxId, id)], "{text}");
        }
        assert!(de_tax_id_valid("65929970489") && de_tax_id_valid("86095742719"));
        // A wrong check digit, a leading zero, no repeated digit, a digit four times,
        // three adjacent repeats.
        for negative in ["65929970488", "05929970489", "12345678903", "11112345675", "11123456789"] {
            assert!(!de_tax_id_valid(negative), "{negative}");
            assert_eq!(found(negative), vec![], "{negative}");
        }
        assert_eq!(found("Kundennummer 86095742719"), vec![]);
    }
}
