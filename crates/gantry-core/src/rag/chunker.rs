//! Splits a document into chunks of at most `size` characters, ending where the text breaks
//! most naturally: a paragraph, else a sentence, else a word; mid-word only when a single word
//! is longer than a chunk. Each chunk after the first repeats up to `overlap` characters of the
//! previous one, starting at a sentence (else word) boundary.

/// A piece of a document: its text and where it sits (character offsets, end exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChunk {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// How strongly the text breaks just before a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    /// Inside a word.
    None,
    /// A word starts here.
    Word,
    /// A sentence (or a Markdown line such as a heading or list item) starts here.
    Sentence,
    /// A paragraph starts here (after a blank line), or the text does.
    Paragraph,
}

const SENTENCE_ENDS: [char; 4] = ['.', '!', '?', '…'];
/// Sentence ends of scripts written without spaces; a break follows them directly.
const CJK_SENTENCE_ENDS: [char; 3] = ['。', '！', '？'];
const CLOSERS: [char; 8] = ['"', '\'', ')', ']', '}', '”', '’', '»'];
const MARKDOWN_LINE_STARTS: [char; 6] = ['#', '-', '*', '+', '>', '|'];

/// The break before each character, plus one for the end of the text.
fn breaks(chars: &[char]) -> Vec<Break> {
    let mut out = vec![Break::None; chars.len() + 1];
    out[chars.len()] = Break::Paragraph;
    for i in 0..chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            continue;
        }
        if i == 0 {
            out[i] = Break::Paragraph;
            continue;
        }
        let previous = chars[i - 1];
        if CJK_SENTENCE_ENDS.contains(&previous) {
            out[i] = Break::Sentence;
            continue;
        }
        if !previous.is_whitespace() {
            continue;
        }
        // The gap before this word, and the last visible character before the gap.
        let mut k = i;
        let mut newlines = 0;
        while k > 0 && chars[k - 1].is_whitespace() {
            if chars[k - 1] == '\n' {
                newlines += 1;
            }
            k -= 1;
        }
        let after_sentence = ends_sentence(&chars[..k]) && !c.is_lowercase();
        // A line that starts capitalised or with Markdown syntax (heading, list item, quote).
        let new_line = newlines == 1 && (c.is_uppercase() || c.is_ascii_digit() || MARKDOWN_LINE_STARTS.contains(&c));
        out[i] = if k == 0 || newlines >= 2 {
            Break::Paragraph
        } else if after_sentence || new_line {
            Break::Sentence
        } else {
            Break::Word
        };
    }
    out
}

/// Whether `before` (text up to a gap) ends a sentence, looking past closing quotes and brackets.
fn ends_sentence(before: &[char]) -> bool {
    let visible = before.iter().rev().find(|c| !CLOSERS.contains(c));
    visible.is_some_and(|c| SENTENCE_ENDS.contains(c))
}

/// The best place to end a chunk that starts at `start`: the index where the next unit begins.
/// `min_end` keeps the chunk going past the previous chunk's end; `content_end` is where the
/// text's last visible character ends.
fn chunk_end(chars: &[char], breaks: &[Break], start: usize, min_end: usize, size: usize, content_end: usize) -> usize {
    let len = chars.len();
    let limit = start + size;
    if limit >= content_end {
        return len;
    }
    // The next unit may begin after whitespace that runs past the limit: the chunk, trimmed,
    // still fits.
    let reach = (limit..len).find(|&i| !chars[i].is_whitespace()).unwrap_or(len);
    // A higher-level break wins only when it leaves the chunk at least a third full; an
    // earlier one would make a tiny chunk.
    let fill = (start + size / 3).max(min_end);
    for level in [Break::Paragraph, Break::Sentence, Break::Word] {
        if let Some(b) = (fill..=reach).rev().find(|&b| breaks[b] >= level) {
            return b;
        }
    }
    (min_end..fill).rev().find(|&b| breaks[b] >= Break::Word).unwrap_or(limit)
}

/// Where the chunk after one ending at `end` starts: as far back as `overlap` allows, at a
/// sentence start if there is one in reach, else a word start.
fn next_start(breaks: &[Break], previous_start: usize, end: usize, overlap: usize) -> usize {
    let earliest = end.saturating_sub(overlap).max(previous_start + 1);
    for level in [Break::Sentence, Break::Word] {
        if let Some(p) = (earliest..end).find(|&p| breaks[p] >= level) {
            return p;
        }
    }
    end
}

/// Splits `text` into chunks of at most `size` characters (at least 1) overlapping by up to
/// `overlap` characters (kept below `size`). Whitespace-only text gives no chunks.
pub fn split(text: &str, size: usize, overlap: usize) -> Vec<TextChunk> {
    let size = size.max(1);
    let overlap = overlap.min(size / 2);
    let chars: Vec<char> = text.chars().collect();
    let breaks = breaks(&chars);
    let Some(mut start) = chars.iter().position(|c| !c.is_whitespace()) else {
        return Vec::new();
    };
    let content_end = chars.iter().rposition(|c| !c.is_whitespace()).map_or(0, |p| p + 1);
    let mut chunks = Vec::new();
    let mut min_end = start + 1;
    loop {
        let boundary = chunk_end(&chars, &breaks, start, min_end, size, content_end);
        let mut end = boundary;
        while end > start && chars[end - 1].is_whitespace() {
            end -= 1;
        }
        chunks.push(TextChunk { text: chars[start..end].iter().collect(), start, end });
        if boundary >= content_end {
            return chunks;
        }
        let next = next_start(&breaks, start, boundary, overlap);
        // A chunk always starts on a visible character: skip the gap a hard cut may leave.
        start = (next..content_end).find(|&i| !chars[i].is_whitespace()).unwrap_or(content_end);
        min_end = boundary + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(chunks: &[TextChunk]) -> Vec<&str> {
        chunks.iter().map(|c| c.text.as_str()).collect()
    }

    /// Every chunk is the document's text at its offsets, within the size.
    fn check_invariants(text: &str, chunks: &[TextChunk], size: usize) {
        let chars: Vec<char> = text.chars().collect();
        for c in chunks {
            assert_eq!(c.text, chars[c.start..c.end].iter().collect::<String>());
            assert!(c.text.chars().count() <= size, "{:?} is longer than {size}", c.text);
            assert!(!c.text.starts_with(char::is_whitespace) && !c.text.ends_with(char::is_whitespace));
        }
        for pair in chunks.windows(2) {
            assert!(pair[1].start > pair[0].start && pair[1].end > pair[0].end, "{pair:?}");
        }
    }

    #[test]
    fn short_text_is_one_chunk_and_blank_text_none() {
        let chunks = split("  Hello world.\n", 800, 100);
        assert_eq!(chunks, vec![TextChunk { text: "Hello world.".into(), start: 2, end: 14 }]);
        assert!(split(" \n\t ", 800, 100).is_empty());
        assert!(split("", 800, 100).is_empty());
    }

    #[test]
    fn paragraphs_are_kept_whole_when_they_fit() {
        let text = "Cats sleep a lot. They purr.\n\nDogs bark at night. They guard.\n\nFish swim.";
        let chunks = split(text, 40, 0);
        assert_eq!(
            texts(&chunks),
            vec!["Cats sleep a lot. They purr.", "Dogs bark at night. They guard.", "Fish swim."]
        );
        assert_eq!((chunks[1].start, chunks[1].end), (30, 61));
        check_invariants(text, &chunks, 40);
        // Two paragraphs fit in 70 characters together.
        let chunks = split(text, 70, 0);
        assert_eq!(
            texts(&chunks),
            vec!["Cats sleep a lot. They purr.\n\nDogs bark at night. They guard.", "Fish swim."]
        );
    }

    #[test]
    fn long_paragraphs_split_at_sentences_then_words() {
        let text = "The first sentence is here. The second one follows it. A third closes the paragraph.";
        let chunks = split(text, 60, 0);
        assert_eq!(
            texts(&chunks),
            vec!["The first sentence is here. The second one follows it.", "A third closes the paragraph."]
        );
        // No sentence fits: split between words, never inside one.
        let text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda";
        let chunks = split(text, 20, 0);
        assert_eq!(texts(&chunks), vec!["alpha beta gamma", "delta epsilon zeta", "eta theta iota kappa", "lambda"]);
        check_invariants(text, &chunks, 20);
    }

    #[test]
    fn a_word_longer_than_a_chunk_is_cut() {
        let text = format!("short {} end", "x".repeat(25));
        let chunks = split(&text, 10, 0);
        assert_eq!(texts(&chunks), vec!["short", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx end"]);
        check_invariants(&text, &chunks, 10);
    }

    #[test]
    fn overlap_repeats_whole_sentences_or_words() {
        let text = "One two three. Four five six. Seven eight nine. Ten eleven twelve.";
        let chunks = split(text, 32, 16);
        assert_eq!(
            texts(&chunks),
            // The second chunk repeats a whole sentence; for the third no sentence start is in
            // reach of 16 characters, so it repeats two words.
            vec!["One two three. Four five six.", "Four five six. Seven eight nine.", "eight nine. Ten eleven twelve."]
        );
        assert_eq!(chunks.iter().map(|c| (c.start, c.end)).collect::<Vec<_>>(), vec![(0, 29), (15, 47), (36, 66)]);
        check_invariants(text, &chunks, 32);
        // Without overlap the same text splits where the sentences end.
        assert_eq!(
            texts(&split(text, 32, 0)),
            vec!["One two three. Four five six.", "Seven eight nine.", "Ten eleven twelve."]
        );
    }

    #[test]
    fn markdown_lines_and_abbreviations() {
        let text = "# Title\nSome intro text here.\n- item one\n- item two";
        let b = breaks(&text.chars().collect::<Vec<_>>());
        let at = |needle: &str| b[text[..text.find(needle).unwrap()].chars().count()];
        assert_eq!(at("Some"), Break::Sentence);
        assert_eq!(at("- item one"), Break::Sentence);
        assert_eq!(at("intro"), Break::Word);
        let text = "See e.g. the docs. Then go.";
        let b = breaks(&text.chars().collect::<Vec<_>>());
        assert_eq!(b[9], Break::Word, "a lowercase word after a period does not start a sentence");
        assert_eq!(b[19], Break::Sentence);
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        let text = "Café crème brûlée. Ünïcödé wörds hère.";
        let chunks = split(text, 20, 0);
        assert_eq!(texts(&chunks), vec!["Café crème brûlée.", "Ünïcödé wörds hère."]);
        assert_eq!((chunks[1].start, chunks[1].end), (19, 38));
        check_invariants(text, &chunks, 20);
    }

    #[test]
    fn long_documents_respect_the_limits() {
        let sentence = "Retrieval augmented generation finds the passages that answer a question. ";
        let mut text = String::new();
        for p in 0..30 {
            for _ in 0..(p % 7 + 1) {
                text.push_str(sentence);
            }
            text.push_str("\n\n");
        }
        let chunks = split(&text, 800, 100);
        check_invariants(&text, &chunks, 800);
        assert!(chunks.len() >= 10, "{}", chunks.len());
        assert!(chunks.iter().all(|c| c.text.ends_with('.')), "every chunk ends at a sentence");
        assert!(chunks.iter().all(|c| c.text.starts_with("Retrieval")), "every chunk starts at a sentence");
        let chars: Vec<char> = text.chars().collect();
        let covered = |i: usize| chunks.iter().any(|c| (c.start..c.end).contains(&i));
        assert!((0..chars.len()).all(|i| chars[i].is_whitespace() || covered(i)), "no text is left out");
        let overlaps: Vec<usize> = chunks.windows(2).map(|p| p[0].end.saturating_sub(p[1].start)).collect();
        assert!(overlaps.iter().all(|&o| o > 0 && o <= 100), "{overlaps:?}");
    }
}
