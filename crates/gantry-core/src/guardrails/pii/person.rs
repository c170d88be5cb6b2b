//! Person names from context: a capitalised name of one to three words right after a cue
//! ("my name is", "I'm", "Name:", "Dear", "Hi", "Mr.", "spoke with"), after a sign-off
//! ("Regards,\n", "Sincerely,", "Mit freundlichen Grüßen\n"), or a full name opening a
//! sentence before "from" ("Lucia Klein from accounting ..."). No name list is consulted:
//! the cue carries the evidence, and a stop-list rejects the common words that follow the
//! same cues ("Dear Customer", "Hi there", "I am Sorry", "Thanks,\nThe Billing Team").

mod given_names;

pub(super) use given_names::lexicon_size;

use super::{PiiKind, PiiSpan};
use aho_corasick::{AhoCorasick, MatchKind};
use std::sync::LazyLock;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cue {
    /// The name follows directly; the cue itself is evidence enough.
    Strong,
    /// "I am", "I'm", "this is": the same words often precede an adjective or a verb.
    Weak,
    /// A title that must be written capitalised: `Mr.`, `Frau`.
    Title,
    /// A closing formula; the name follows, possibly on the next line, and ends its line.
    SignOff,
    /// " from ": a full name may open the sentence before it.
    From,
}

const CUES: &[(&str, Cue)] = &[
    ("my name is ", Cue::Strong),
    ("name is ", Cue::Strong),
    ("mein name ist ", Cue::Strong),
    ("ich heiße ", Cue::Strong),
    ("ich heisse ", Cue::Strong),
    ("dear ", Cue::Strong),
    ("hi ", Cue::Strong),
    ("hello ", Cue::Strong),
    ("hey ", Cue::Strong),
    ("hallo ", Cue::Strong),
    ("liebe ", Cue::Strong),
    ("lieber ", Cue::Strong),
    ("spoke with ", Cue::Strong),
    ("spoke to ", Cue::Strong),
    ("speak with ", Cue::Strong),
    ("speak to ", Cue::Strong),
    ("talked to ", Cue::Strong),
    ("talked with ", Cue::Strong),
    ("forward this to ", Cue::Strong),
    ("forward it to ", Cue::Strong),
    ("forwarded this to ", Cue::Strong),
    ("ask for ", Cue::Strong),
    ("asked for ", Cue::Strong),
    ("signed by ", Cue::Strong),
    ("approved by ", Cue::Strong),
    ("assigned to ", Cue::Strong),
    ("name: ", Cue::Strong),
    ("name:\t", Cue::Strong),
    ("customer: ", Cue::Strong),
    ("cardholder: ", Cue::Strong),
    ("card holder: ", Cue::Strong),
    ("account holder: ", Cue::Strong),
    ("contact: ", Cue::Strong),
    ("contact person: ", Cue::Strong),
    ("passenger: ", Cue::Strong),
    ("patient: ", Cue::Strong),
    ("employee: ", Cue::Strong),
    ("applicant: ", Cue::Strong),
    ("assigned to: ", Cue::Strong),
    ("attn: ", Cue::Strong),
    ("cc: ", Cue::Strong),
    ("from: ", Cue::Strong),
    ("my name's ", Cue::Strong),
    ("thanks to ", Cue::Strong),
    ("thank you to ", Cue::Strong),
    ("cc'd ", Cue::Strong),
    ("contact ", Cue::Strong),
    ("met with ", Cue::Strong),
    ("met ", Cue::Strong),
    // Relatives and colleagues: "my wife Julia", "our manager Tom Baker".
    ("wife ", Cue::Strong),
    ("husband ", Cue::Strong),
    ("son ", Cue::Strong),
    ("daughter ", Cue::Strong),
    ("colleague ", Cue::Strong),
    ("manager ", Cue::Strong),
    ("boss ", Cue::Strong),
    ("friend ", Cue::Strong),
    // Structured records: `"name": "Ana Lima"`, `full_name="…"`, `name=Ana`.
    ("name\": \"", Cue::Strong),
    ("name\":\"", Cue::Strong),
    ("name=\"", Cue::Strong),
    ("name='", Cue::Strong),
    ("name=", Cue::Strong),
    ("i am ", Cue::Weak),
    ("i'm ", Cue::Weak),
    ("i’m ", Cue::Weak),
    ("this is ", Cue::Weak),
    ("ich bin ", Cue::Weak),
    ("mr. ", Cue::Title),
    ("mr ", Cue::Title),
    ("mrs. ", Cue::Title),
    ("mrs ", Cue::Title),
    ("ms. ", Cue::Title),
    ("ms ", Cue::Title),
    ("miss ", Cue::Title),
    ("dr. ", Cue::Title),
    ("prof. ", Cue::Title),
    ("herr ", Cue::Title),
    ("frau ", Cue::Title),
    ("regards,", Cue::SignOff),
    ("regards\n", Cue::SignOff),
    ("best,", Cue::SignOff),
    ("thanks,", Cue::SignOff),
    ("thank you,", Cue::SignOff),
    ("cheers,", Cue::SignOff),
    ("sincerely,", Cue::SignOff),
    ("sincerely\n", Cue::SignOff),
    ("yours,", Cue::SignOff),
    ("yours truly,", Cue::SignOff),
    ("best wishes,", Cue::SignOff),
    ("best wishes\n", Cue::SignOff),
    ("warm regards", Cue::SignOff),
    ("signed,", Cue::SignOff),
    ("mit freundlichen grüßen", Cue::SignOff),
    ("freundliche grüße", Cue::SignOff),
    ("viele grüße", Cue::SignOff),
    ("beste grüße", Cue::SignOff),
    ("liebe grüße", Cue::SignOff),
    ("-- \n", Cue::SignOff),
    ("--\n", Cue::SignOff),
    (" from ", Cue::From),
];

/// Titles skipped between a cue and the name ("Dear Dr. Anna Weber").
const TITLES: &[&str] = &["Mr. ", "Mr ", "Mrs. ", "Mrs ", "Ms. ", "Ms ", "Miss ", "Dr. ", "Prof. ", "Herr ", "Frau "];

/// Capitalised words that follow name cues without being names (lower case).
const STOP: &[&str] = &[
    "customer",
    "customers",
    "client",
    "clients",
    "valued",
    "sir",
    "madam",
    "team",
    "support",
    "service",
    "services",
    "there",
    "all",
    "everyone",
    "everybody",
    "folks",
    "guys",
    "friends",
    "colleagues",
    "sorry",
    "happy",
    "glad",
    "writing",
    "not",
    "sure",
    "the",
    "a",
    "an",
    "our",
    "your",
    "my",
    "his",
    "her",
    "their",
    "this",
    "that",
    "billing",
    "sales",
    "admin",
    "staff",
    "department",
    "management",
    "hr",
    "it",
    "ihr",
    "ihre",
    "damen",
    "herren",
    "zusammen",
    "kundenservice",
    "kundendienst",
    "support-team",
    "thanks",
    "thank",
    "regards",
    "best",
    "hello",
    "hi",
    "dear",
    "please",
    "ok",
    "okay",
    "yes",
    "no",
    "still",
    "also",
    "just",
    "very",
    "really",
    "so",
    "here",
    "back",
    "new",
    "good",
    "fine",
    "interested",
    "available",
    "unable",
    "able",
    "afraid",
    "aware",
    "ready",
    "done",
    "pleased",
    "excited",
    "confused",
    "frustrated",
    "disappointed",
    "unhappy",
    "morning",
    "afternoon",
    "evening",
    "manager",
    "user",
    "users",
    "member",
    "members",
    "owner",
    "partner",
    "community",
    "world",
    "assistant",
    "bot",
    "again",
    "now",
    "only",
    "from",
    "in",
    "at",
    "on",
    "with",
    "for",
    "and",
    "or",
    "but",
    "if",
    "when",
    "what",
    "who",
    "how",
    "why",
    "sent",
    "greetings",
    "data",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "today",
    "tomorrow",
    "going",
    "calling",
    "contacting",
    "following",
    "reaching",
    "having",
    "getting",
    "trying",
    "looking",
    "great",
    "awesome",
    "urgent",
    "important",
    "regarding",
    "kunde",
    "kundin",
    "seit",
    "leider",
    "gerne",
    "neu",
    "hier",
    "i'm",
    "i’m",
    "grüße",
    "grüßen",
];

static MATCHER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(CUES.iter().map(|(p, _)| p))
        .ok()
});

/// Pushes the person names in `text`.
pub(super) fn find(text: &str, out: &mut Vec<PiiSpan>) {
    given_names::find(text, out);
    let Some(matcher) = MATCHER.as_ref() else { return };
    let bytes = text.as_bytes();
    // Overlapping matches: a cue inside a word (`son ` in "Nelson from") must not hide the
    // one that follows it; a cue inside a longer one gives the same name, deduplicated later.
    for m in matcher.find_overlapping_iter(text) {
        let (_, cue) = CUES[m.pattern().as_usize()];
        let at_word_start = m.start() == 0 || !bytes[m.start() - 1].is_ascii_alphanumeric() || cue == Cue::From;
        if !at_word_start {
            continue;
        }
        let name = match cue {
            Cue::Strong | Cue::Weak => name_after(text, m.end(), cue).inspect(|&(_, end)| {
                // "We met Sophie Martin and Lucas Bernard": the second name shares the cue.
                if let Some(rest) = text[end..].strip_prefix(" and ") {
                    if let Some((s, e)) = name_after(text, text.len() - rest.len(), Cue::Weak) {
                        out.push(PiiSpan { kind: PiiKind::Person, start: s, end: e });
                    }
                }
            }),
            Cue::Title => bytes[m.start()].is_ascii_uppercase().then(|| name_after(text, m.end(), cue)).flatten(),
            Cue::SignOff => signature_after(text, m.end()),
            Cue::From => name_before_from(text, m.start()),
        };
        if let Some((start, end)) = name {
            out.push(PiiSpan { kind: PiiKind::Person, start, end });
        }
    }
}

/// The name starting at `at` (after an optional title), as byte offsets.
fn name_after(text: &str, mut at: usize, cue: Cue) -> Option<(usize, usize)> {
    if let Some(title) = TITLES.iter().find(|t| text[at..].starts_with(*t)) {
        at += title.len();
    }
    let tokens = tokens_from(text, at);
    let (first, last) = (tokens.first()?, tokens.last()?);
    acceptable(text, &tokens, cue).then_some((first.0, last.1))
}

/// A name closing a letter: after the sign-off, on its own line (or the same line), and
/// nothing else on that line.
fn signature_after(text: &str, mut at: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut newlines = 0;
    while let Some(&b) = bytes.get(at) {
        match b {
            b' ' | b'\t' | b'\r' | b',' => at += 1,
            b'\n' if newlines == 0 => {
                newlines += 1;
                at += 1;
            }
            _ => break,
        }
    }
    let (start, end) = name_after(text, at, Cue::SignOff)?;
    let rest = text[end..].trim_start_matches([' ', '\t', '\r', ',', '.']);
    // Signature lines often go on with a role or a phone number: `Ola Nordmann | Product`.
    (rest.is_empty() || rest.starts_with(['\n', '|', '–', '·'])).then_some((start, end))
}

/// A full name (two or three words) opening a sentence right before " from ".
fn name_before_from(text: &str, space: usize) -> Option<(usize, usize)> {
    let mut tokens = Vec::new();
    let mut end = space;
    while tokens.len() < 3 {
        let start = text[..end].rfind(|c: char| !is_name_char(c)).map_or(0, |i| i + char_len(text, i));
        if start == end || !is_capitalised(&text[start..end]) {
            break;
        }
        tokens.push((start, end));
        if start == 0 || !text[..start].ends_with(' ') {
            break;
        }
        end = start - 1;
    }
    tokens.reverse();
    let (first, last) = (*tokens.first()?, *tokens.last()?);
    let before = text[..first.0].trim_end_matches(' ');
    let sentence_start = before.is_empty() || before.ends_with(['\n', '.', '!', '?', ':']);
    let opens_sentence = sentence_start && (first.0 == 0 || text[..first.0].ends_with([' ', '\n']));
    (tokens.len() >= 2 && opens_sentence && acceptable(text, &tokens, Cue::Weak)).then_some((first.0, last.1))
}

fn char_len(text: &str, at: usize) -> usize {
    text[at..].chars().next().map_or(1, char::len_utf8)
}

fn is_name_char(c: char) -> bool {
    c.is_alphabetic() || c == '\'' || c == '’' || c == '-'
}

/// Upper-case first letter, at least one lower-case letter (not an acronym), two or more
/// characters, ending in a letter.
fn is_capitalised(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_uppercase)
        && word.chars().count() >= 2
        && word.chars().any(char::is_lowercase)
        && word.chars().last().is_some_and(char::is_alphabetic)
}

/// Up to three capitalised words from `at`, separated by single spaces.
fn tokens_from(text: &str, at: usize) -> Vec<(usize, usize)> {
    let mut tokens = Vec::new();
    let mut p = at;
    while tokens.len() < 3 {
        let len: usize = text[p..].chars().take_while(|&c| is_name_char(c)).map(char::len_utf8).sum();
        let word = text[p..p + len].trim_end_matches(['\'', '’', '-']);
        if !is_capitalised(word) {
            break;
        }
        tokens.push((p, p + word.len()));
        if word.len() != len || !text[p + len..].starts_with(' ') {
            break;
        }
        p += len + 1;
    }
    tokens
}

/// No word on the stop-list; after a weak cue, the first word is no `-ing` form either
/// ("I am Writing").
fn acceptable(text: &str, tokens: &[(usize, usize)], cue: Cue) -> bool {
    let words: Vec<String> = tokens.iter().map(|&(s, e)| text[s..e].to_lowercase()).collect();
    let stopped = words.iter().any(|w| STOP.contains(&w.as_str()));
    let verb = cue == Cue::Weak && words.first().is_some_and(|w| w.ends_with("ing") && w.len() > 5);
    !words.is_empty() && !stopped && !verb
}

#[cfg(test)]
mod tests {
    use super::super::tests::found;
    use super::super::PiiKind;

    fn names(text: &str) -> Vec<&str> {
        found(text).into_iter().filter(|(k, _)| *k == PiiKind::Person).map(|(_, v)| v).collect()
    }

    #[test]
    fn names_after_cues() {
        for (text, name) in [
            ("Hello, my name is Jürgen Müller and I need help.", "Jürgen Müller"),
            ("I am Priya Ramanathan, the account owner.", "Priya Ramanathan"),
            ("i'm Wei, can someone help?", "Wei"),
            ("Name: Anke O'Brien\nemail: x", "Anke O'Brien"),
            ("Dear Mr. Smith,\nthanks", "Smith"),
            ("Dear Dr. Anna Marie Weber,", "Anna Marie Weber"),
            ("Hi Klaus!", "Klaus"),
            ("Ms. Zhang will pay by card.", "Zhang"),
            ("Sehr geehrte Frau Schäfer,", "Schäfer"),
            ("I spoke with Lucia Klein yesterday.", "Lucia Klein"),
            ("Thanks for the fix.\n\nBest regards,\nJennifer Clark", "Jennifer Clark"),
            ("Best,\nTom", "Tom"),
            ("Sincerely, Olga Petrov", "Olga Petrov"),
            ("Mit freundlichen Grüßen\nSabine Koch", "Sabine Koch"),
            ("Kind regards,\nAnke Becker\n+49 30 1234567", "Anke Becker"),
            ("Omar Haddad from our IT team says hi.", "Omar Haddad"),
            ("Cardholder: Mei Chen\nCard number: 4111", "Mei Chen"),
            ("I'm Priya Ramanathan from the finance department.", "Priya Ramanathan"),
            ("I'm Wei from accounting.", "Wei"),
            ("Thanks to Maria Garcia for the quick turnaround!", "Maria Garcia"),
            ("my name's Dave btw", "Dave"),
            ("{\"name\": \"Ana Lima\", \"plan\": \"pro\"}", "Ana Lima"),
            ("Signed,\nHelen Park\nHead of Operations", "Helen Park"),
            ("-- \nOla Nordmann | Product", "Ola Nordmann"),
            ("My wife Julia opened the account.", "Julia"),
            ("Liebe Grüße\nAnke", "Anke"),
            ("Noah Nelson from our IT team called.", "Noah Nelson"),
        ] {
            assert_eq!(names(text), vec![name], "{text}");
        }
    }

    #[test]
    fn two_names_share_one_cue() {
        let text = "We met Sophie Martin and Lucas Bernard at the office.";
        assert_eq!(names(text), vec!["Sophie Martin", "Lucas Bernard"]);
    }

    #[test]
    fn common_words_after_cues_are_not_names() {
        for negative in [
            "Dear Customer,",
            "Dear Valued Customer,",
            "Hi there, how are you?",
            "I am Sorry for the delay.",
            "I'm Happy to help.",
            "I am Writing about my order.",
            "Dear Sir or Madam,",
            "Hello Support,",
            "Best regards,\nCustomer Support",
            "Thanks,\nThe Billing Team",
            "Mit freundlichen Grüßen\nIhr Kundenservice",
            "Sehr geehrte Damen und Herren,",
            "Sent from my iPhone",
            "Data from the logs shows it.",
            "This is Great news",
            "I am using Windows 11.",
            "Hi SSN team",
            "mr. nobody",
            "Chi Wang",
            "Dear Hiring Manager,\nplease find my CV attached.",
            "Please contact Support or our Sales Team.",
            "hostname=Server01 username=Admin",
        ] {
            assert_eq!(names(negative), Vec::<&str>::new(), "{negative}");
        }
    }
}
