//! The Porter stemmer as NLTK's `PorterStemmer()` runs it by default (mode `NLTK_EXTENSIONS`),
//! which is the stemmer `rouge-score` uses.
//!
//! Written from M.F. Porter, "An algorithm for suffix stripping" (1980), with the departures
//! NLTK documents for its default mode: a few irregular forms, words of one or two letters left
//! alone, `-ies`/`-ied` on four-letter words kept as `-ie`, `y` turned into `i` only after a
//! consonant that is not the first letter, Martin Porter's later `bli`->`ble` and `logi`->`log`
//! rules plus `fulli`->`ful`, `alli`->`al` tried before the other step-2 rules, and a two-letter
//! vowel-consonant stem counting as the `*o` shape.

/// Irregular forms NLTK maps directly to their stem.
const IRREGULAR_FORMS: &[(&str, &str)] = &[
    ("sky", "sky"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("tying", "tie"),
    ("news", "news"),
    ("innings", "inning"),
    ("inning", "inning"),
    ("outings", "outing"),
    ("outing", "outing"),
    ("cannings", "canning"),
    ("canning", "canning"),
    ("howe", "howe"),
    ("proceed", "proceed"),
    ("exceed", "exceed"),
    ("succeed", "succeed"),
];

/// The stem of a lowercase word, as NLTK's default `PorterStemmer().stem(word)` returns it.
pub fn porter_stem(word: &str) -> String {
    let word = word.to_lowercase();
    if let Some((_, stem)) = IRREGULAR_FORMS.iter().find(|(form, _)| *form == word) {
        return stem.to_string();
    }
    if word.chars().count() <= 2 {
        return word;
    }
    let mut letters: Vec<char> = word.chars().collect();
    step_1a(&mut letters);
    step_1b(&mut letters);
    step_1c(&mut letters);
    step_2(&mut letters);
    step_3(&mut letters);
    step_4(&mut letters);
    step_5a(&mut letters);
    step_5b(&mut letters);
    letters.into_iter().collect()
}

/// A letter is a consonant unless it is a vowel, or a `y` that follows a consonant.
fn is_consonant(letters: &[char], index: usize) -> bool {
    match letters[index] {
        'a' | 'e' | 'i' | 'o' | 'u' => false,
        'y' => index == 0 || !is_consonant(letters, index - 1),
        _ => true,
    }
}

/// Porter's m: the number of vowel-run-then-consonant-run pairs, [C](VC)^m[V].
fn measure(letters: &[char]) -> usize {
    let mut pairs = 0;
    let mut previous_was_vowel = false;
    for index in 0..letters.len() {
        let consonant = is_consonant(letters, index);
        if consonant && previous_was_vowel {
            pairs += 1;
        }
        previous_was_vowel = !consonant;
    }
    pairs
}

fn contains_vowel(letters: &[char]) -> bool {
    (0..letters.len()).any(|index| !is_consonant(letters, index))
}

/// Porter's *d: ends with two equal consonants.
fn ends_with_double_consonant(letters: &[char]) -> bool {
    let n = letters.len();
    n >= 2 && letters[n - 1] == letters[n - 2] && is_consonant(letters, n - 1)
}

/// Porter's *o (consonant-vowel-consonant, the last not w, x or y), plus NLTK's two-letter
/// vowel-consonant case.
fn ends_with_cvc(letters: &[char]) -> bool {
    let n = letters.len();
    let three_letter_shape = n >= 3
        && is_consonant(letters, n - 3)
        && !is_consonant(letters, n - 2)
        && is_consonant(letters, n - 1)
        && !matches!(letters[n - 1], 'w' | 'x' | 'y');
    three_letter_shape || (n == 2 && !is_consonant(letters, 0) && is_consonant(letters, 1))
}

fn ends_with(letters: &[char], suffix: &str) -> bool {
    let suffix_len = suffix.chars().count();
    letters.len() >= suffix_len && letters[letters.len() - suffix_len..].iter().copied().eq(suffix.chars())
}

/// The letters before `suffix` (which the word must end with).
fn stem_before<'a>(letters: &'a [char], suffix: &str) -> &'a [char] {
    &letters[..letters.len() - suffix.chars().count()]
}

fn replace_end(letters: &mut Vec<char>, suffix: &str, replacement: &str) {
    letters.truncate(letters.len() - suffix.chars().count());
    letters.extend(replacement.chars());
}

/// A condition on the stem left once a suffix is removed.
type StemCondition = fn(&[char]) -> bool;

fn measure_above_0(stem: &[char]) -> bool {
    measure(stem) > 0
}

fn measure_above_1(stem: &[char]) -> bool {
    measure(stem) > 1
}

/// Finds the one rule whose suffix ends the word (the rule lists hold no suffix that ends
/// another suffix listed after it) and applies it only when its condition holds; a matching
/// rule whose condition fails stops the step, as in Porter's paper.
fn apply_first_matching(letters: &mut Vec<char>, rules: &[(&str, &str, StemCondition)]) -> bool {
    for (suffix, replacement, condition) in rules {
        if ends_with(letters, suffix) {
            if condition(stem_before(letters, suffix)) {
                replace_end(letters, suffix, replacement);
                return true;
            }
            return false;
        }
    }
    false
}

/// Plurals: sses -> ss, ies -> i, ss -> ss, s -> (nothing).
fn step_1a(letters: &mut Vec<char>) {
    if letters.len() == 4 && ends_with(letters, "ies") {
        replace_end(letters, "ies", "ie");
        return;
    }
    let always: StemCondition = |_| true;
    apply_first_matching(
        letters,
        &[("sses", "ss", always), ("ies", "i", always), ("ss", "ss", always), ("s", "", always)],
    );
}

/// Past tenses and gerunds: (m>0) eed -> ee; (*v*) ed, ing -> (nothing), then tidy the stem.
fn step_1b(letters: &mut Vec<char>) {
    if ends_with(letters, "ied") {
        let replacement = if letters.len() == 4 { "ie" } else { "i" };
        replace_end(letters, "ied", replacement);
        return;
    }
    if ends_with(letters, "eed") {
        if measure(stem_before(letters, "eed")) > 0 {
            replace_end(letters, "eed", "ee");
        }
        return;
    }
    let Some(suffix) = ["ed", "ing"]
        .into_iter()
        .find(|suffix| ends_with(letters, suffix) && contains_vowel(stem_before(letters, suffix)))
    else {
        return;
    };
    replace_end(letters, suffix, "");
    if ends_with(letters, "at") || ends_with(letters, "bl") || ends_with(letters, "iz") {
        letters.push('e');
    } else if ends_with_double_consonant(letters) {
        if !matches!(letters.last(), Some('l' | 's' | 'z')) {
            letters.pop();
        }
    } else if measure(letters) == 1 && ends_with_cvc(letters) {
        letters.push('e');
    }
}

/// y -> i after a consonant that is not the word's first letter.
fn step_1c(letters: &mut [char]) {
    let n = letters.len();
    if ends_with(letters, "y") && n - 1 > 1 && is_consonant(letters, n - 2) {
        letters[n - 1] = 'i';
    }
}

/// Double suffixes to single ones, for stems with m>0.
fn step_2(letters: &mut Vec<char>) {
    if ends_with(letters, "alli") && measure(stem_before(letters, "alli")) > 0 {
        replace_end(letters, "alli", "al");
        step_2(letters);
        return;
    }
    // Martin Porter keeps the `l` with the stem here, so that short stems (geo-, theo-) qualify.
    let logi_condition: StemCondition = |stem| {
        let mut with_l = stem.to_vec();
        with_l.push('l');
        measure(&with_l) > 0
    };
    apply_first_matching(
        letters,
        &[
            ("ational", "ate", measure_above_0),
            ("tional", "tion", measure_above_0),
            ("enci", "ence", measure_above_0),
            ("anci", "ance", measure_above_0),
            ("izer", "ize", measure_above_0),
            ("bli", "ble", measure_above_0),
            ("alli", "al", measure_above_0),
            ("entli", "ent", measure_above_0),
            ("eli", "e", measure_above_0),
            ("ousli", "ous", measure_above_0),
            ("ization", "ize", measure_above_0),
            ("ation", "ate", measure_above_0),
            ("ator", "ate", measure_above_0),
            ("alism", "al", measure_above_0),
            ("iveness", "ive", measure_above_0),
            ("fulness", "ful", measure_above_0),
            ("ousness", "ous", measure_above_0),
            ("aliti", "al", measure_above_0),
            ("iviti", "ive", measure_above_0),
            ("biliti", "ble", measure_above_0),
            ("fulli", "ful", measure_above_0),
            ("logi", "log", logi_condition),
        ],
    );
}

/// -ic-, -full, -ness and similar, for stems with m>0.
fn step_3(letters: &mut Vec<char>) {
    apply_first_matching(
        letters,
        &[
            ("icate", "ic", measure_above_0),
            ("ative", "", measure_above_0),
            ("alize", "al", measure_above_0),
            ("iciti", "ic", measure_above_0),
            ("ical", "ic", measure_above_0),
            ("ful", "", measure_above_0),
            ("ness", "", measure_above_0),
        ],
    );
}

/// Remaining suffixes, for stems with m>1 (`ion` only after `s` or `t`).
fn step_4(letters: &mut Vec<char>) {
    let ion_condition: StemCondition = |stem| measure(stem) > 1 && matches!(stem.last(), Some('s' | 't'));
    apply_first_matching(
        letters,
        &[
            ("al", "", measure_above_1),
            ("ance", "", measure_above_1),
            ("ence", "", measure_above_1),
            ("er", "", measure_above_1),
            ("ic", "", measure_above_1),
            ("able", "", measure_above_1),
            ("ible", "", measure_above_1),
            ("ant", "", measure_above_1),
            ("ement", "", measure_above_1),
            ("ment", "", measure_above_1),
            ("ent", "", measure_above_1),
            ("ion", "", ion_condition),
            ("ou", "", measure_above_1),
            ("ism", "", measure_above_1),
            ("ate", "", measure_above_1),
            ("iti", "", measure_above_1),
            ("ous", "", measure_above_1),
            ("ive", "", measure_above_1),
            ("ize", "", measure_above_1),
        ],
    );
}

/// A final e goes when m>1, or when m=1 and the stem does not end consonant-vowel-consonant.
fn step_5a(letters: &mut Vec<char>) {
    if ends_with(letters, "e") {
        let stem = stem_before(letters, "e");
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_with_cvc(stem)) {
            letters.pop();
        }
    }
}

/// A final double l becomes single when m>1.
fn step_5b(letters: &mut Vec<char>) {
    if ends_with(letters, "ll") && measure(&letters[..letters.len() - 1]) > 1 {
        letters.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_porters_paper() {
        let cases = [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("cats", "cat"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("conflated", "conflat"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("filing", "file"),
            ("relational", "relat"),
            ("generalization", "gener"),
            ("electriciti", "electr"),
            ("adjustment", "adjust"),
            ("controlling", "control"),
        ];
        for (word, stem) in cases {
            assert_eq!(porter_stem(word), stem, "{word}");
        }
    }

    #[test]
    fn nltk_departures() {
        assert_eq!(porter_stem("skies"), "sky");
        assert_eq!(porter_stem("dies"), "die");
        assert_eq!(porter_stem("cried"), "cri");
        assert_eq!(porter_stem("by"), "by");
        assert_eq!(porter_stem("geology"), "geolog");
    }
}
