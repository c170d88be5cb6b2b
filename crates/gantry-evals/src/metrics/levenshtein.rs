//! Character Levenshtein distance with the bit-parallel algorithm of G. Myers, "A fast bit-vector
//! algorithm for approximate string matching based on dynamic programming" (J. ACM, 1999), in its
//! blocked form for global edit distance: one column of the DP table is held as vertical +1/-1
//! deltas packed 64 rows to a machine word, so each text character costs O(m / 64) word operations.

use std::collections::HashMap;

const WORD_BITS: usize = 64;

/// Insertions, deletions and substitutions (each costing 1) turning `a` into `b`, over Unicode scalar values.
pub fn levenshtein_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // A shared prefix or suffix never takes part in an optimal alignment's edits.
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    let (pattern, text) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if pattern.is_empty() {
        return text.len();
    }
    BitParallelPattern::new(pattern).distance_to(text)
}

/// Per character of the pattern, the bit mask of the rows (pattern positions) it occupies.
struct BitParallelPattern {
    length: usize,
    blocks: usize,
    /// `ascii_masks[c * blocks + block]`, for the common case without a hash lookup.
    ascii_masks: Vec<u64>,
    other_masks: HashMap<char, Vec<u64>>,
}

impl BitParallelPattern {
    fn new(pattern: &[char]) -> Self {
        let blocks = pattern.len().div_ceil(WORD_BITS);
        let mut ascii_masks = vec![0u64; 128 * blocks];
        let mut other_masks: HashMap<char, Vec<u64>> = HashMap::new();
        for (row, &c) in pattern.iter().enumerate() {
            let (block, bit) = (row / WORD_BITS, 1u64 << (row % WORD_BITS));
            if c.is_ascii() {
                ascii_masks[c as usize * blocks + block] |= bit;
            } else {
                other_masks.entry(c).or_insert_with(|| vec![0; blocks])[block] |= bit;
            }
        }
        BitParallelPattern { length: pattern.len(), blocks, ascii_masks, other_masks }
    }

    fn masks(&self, c: char) -> Option<&[u64]> {
        if c.is_ascii() {
            let start = c as usize * self.blocks;
            Some(&self.ascii_masks[start..start + self.blocks])
        } else {
            self.other_masks.get(&c).map(Vec::as_slice)
        }
    }

    fn distance_to(&self, text: &[char]) -> usize {
        // Column 0 of the DP table is 0, 1, ..., m: every vertical delta is +1.
        let mut positive_vertical = vec![u64::MAX; self.blocks];
        let mut negative_vertical = vec![0u64; self.blocks];
        let last_row_bit = 1u64 << ((self.length - 1) % WORD_BITS);
        let mut distance = self.length;
        for &c in text {
            let masks = self.masks(c);
            // Row 0 of the table is 0, 1, ..., n: entering each column, the top delta is +1.
            let mut horizontal_carry: i8 = 1;
            for block in 0..self.blocks {
                let equal = masks.map_or(0, |m| m[block]);
                let high_bit = if block + 1 == self.blocks { last_row_bit } else { 1 << (WORD_BITS - 1) };
                horizontal_carry = advance_block(
                    &mut positive_vertical[block],
                    &mut negative_vertical[block],
                    equal,
                    horizontal_carry,
                    high_bit,
                );
            }
            // The carry out of the last block is the change in the bottom row: the distance so far.
            distance = distance.wrapping_add_signed(isize::from(horizontal_carry));
        }
        distance
    }
}

/// Advances one 64-row block by one text character, given the horizontal delta entering its top
/// row, and returns the horizontal delta leaving its bottom row (Myers 1999, "advance block").
fn advance_block(positive: &mut u64, negative: &mut u64, equal: u64, carry_in: i8, high_bit: u64) -> i8 {
    let (pv, mv) = (*positive, *negative);
    let xv = equal | mv;
    let equal = if carry_in < 0 { equal | 1 } else { equal };
    let xh = (((equal & pv).wrapping_add(pv)) ^ pv) | equal;
    let mut ph = mv | !(xh | pv);
    let mut mh = pv & xh;
    let carry_out = if ph & high_bit != 0 {
        1
    } else if mh & high_bit != 0 {
        -1
    } else {
        0
    };
    ph <<= 1;
    mh <<= 1;
    match carry_in {
        c if c < 0 => mh |= 1,
        c if c > 0 => ph |= 1,
        _ => {}
    }
    *positive = mh | !(xv | ph);
    *negative = ph & xv;
    carry_out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook O(nm) dynamic programme, to check the bit-parallel one against.
    fn reference_distance(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, x) in a.iter().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, y) in b.iter().enumerate() {
                let substitution = diagonal + usize::from(x != y);
                diagonal = row[j + 1];
                row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
            }
        }
        row[b.len()]
    }

    #[test]
    fn matches_the_dynamic_programme_across_block_boundaries() {
        let alphabet: Vec<char> = "abcé日 ".chars().collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for round in 0..400 {
            let max_len = [5, 70, 140, 300][round % 4];
            let a: String = (0..next(max_len + 1)).map(|_| alphabet[next(alphabet.len())]).collect();
            let b: String = (0..next(max_len + 1)).map(|_| alphabet[next(alphabet.len())]).collect();
            assert_eq!(levenshtein_distance(&a, &b), reference_distance(&a, &b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn known_distances() {
        assert_eq!(levenshtein_distance("kitten", "sitting"), 3);
        assert_eq!(levenshtein_distance("", "abc"), 3);
        assert_eq!(levenshtein_distance("abc", "abc"), 0);
        assert_eq!(levenshtein_distance(&"a".repeat(130), &"b".repeat(65)), 130);
    }
}
