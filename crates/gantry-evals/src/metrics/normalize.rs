//! Answer normalisation: the steps of the official SQuAD v1.1 `normalize_answer`, each optional.

use serde::{Deserialize, Serialize};

/// Which normalisation steps run before two answers are compared (all on = SQuAD's `normalize_answer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NormalizeOptions {
    /// Lowercase (Unicode-aware, like Python's `str.lower`).
    pub lowercase: bool,
    /// Remove the ASCII punctuation characters (Python's `string.punctuation`).
    pub strip_punctuation: bool,
    /// Remove the English articles "a", "an" and "the" as whole words.
    pub remove_articles: bool,
    /// Trim and collapse every run of whitespace into one space.
    pub collapse_whitespace: bool,
}

impl NormalizeOptions {
    /// Every step on: the official SQuAD v1.1 `normalize_answer`.
    pub const SQUAD: NormalizeOptions =
        NormalizeOptions { lowercase: true, strip_punctuation: true, remove_articles: true, collapse_whitespace: true };
    /// No step: texts are compared as they are.
    pub const NONE: NormalizeOptions = NormalizeOptions {
        lowercase: false,
        strip_punctuation: false,
        remove_articles: false,
        collapse_whitespace: false,
    };
}

/// Applies the chosen steps in SQuAD's order: lowercase, punctuation, articles, whitespace.
pub fn normalize_text(text: &str, options: NormalizeOptions) -> String {
    let mut text = if options.lowercase { text.to_lowercase() } else { text.to_string() };
    if options.strip_punctuation {
        text.retain(|c| !c.is_ascii_punctuation());
    }
    if options.remove_articles {
        text = remove_articles(&text);
    }
    if options.collapse_whitespace {
        text = python_split_whitespace(&text).collect::<Vec<_>>().join(" ");
    }
    text
}

/// The official SQuAD v1.1 `normalize_answer`.
pub fn squad_normalize(text: &str) -> String {
    normalize_text(text, NormalizeOptions::SQUAD)
}

/// Python's `str.isspace`: Unicode White_Space plus the four ASCII information separators.
pub(crate) fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()` with no separator: non-empty runs between whitespace.
pub(crate) fn python_split_whitespace(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_python_whitespace).filter(|token| !token.is_empty())
}

/// A character Python's `\w` matches in a `str` pattern (alphanumerics and the underscore).
fn is_python_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `re.sub(r'\b(a|an|the)\b', ' ', text)`: an article matches only as a whole run of word
/// characters, so the text is walked run by run and whole-word articles become one space.
fn remove_articles(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run_start = 0;
    let mut in_word = false;
    for (index, c) in text.char_indices() {
        let word = is_python_word_char(c);
        if word != in_word {
            push_run(&mut out, &text[run_start..index], in_word);
            run_start = index;
            in_word = word;
        }
    }
    push_run(&mut out, &text[run_start..], in_word);
    out
}

fn push_run(out: &mut String, run: &str, is_word: bool) {
    if is_word && matches!(run, "a" | "an" | "the") {
        out.push(' ');
    } else {
        out.push_str(run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squad_normalisation_removes_articles_only_as_whole_words() {
        assert_eq!(squad_normalize("The  Cat, an apple & a theory!"), "cat apple theory");
        assert_eq!(squad_normalize("Anna ate thE banana"), "anna ate banana");
        assert_eq!(squad_normalize(""), "");
    }

    #[test]
    fn each_step_can_be_switched_on_alone() {
        let only_case = NormalizeOptions { lowercase: true, ..NormalizeOptions::NONE };
        assert_eq!(normalize_text("A  B.", only_case), "a  b.");
        let only_space = NormalizeOptions { collapse_whitespace: true, ..NormalizeOptions::NONE };
        assert_eq!(normalize_text("  A \t B. \u{1f}", only_space), "A B.");
    }
}
