//! Chat templates: the Jinja template a GGUF file carries, rendered the way Hugging Face's
//! `apply_chat_template` does, with ChatML when the file has none.

use gantry_types::{ChatMessage, Role};
use minijinja::{context, Environment, Error, ErrorKind};
use serde::Serialize;

/// ChatML, used when a model file has no `tokenizer.chat_template`.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// A compiled chat template plus the special token texts it may refer to.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

#[derive(Serialize)]
struct TemplateMessage {
    role: &'static str,
    content: String,
}

impl ChatTemplate {
    /// Compiles `source`; on a syntax error, logs it and falls back to ChatML so the model
    /// still answers (the most common template in small instruct models).
    pub fn new(source: Option<&str>, bos_token: &str, eos_token: &str) -> Self {
        let source = source.unwrap_or(CHATML_TEMPLATE);
        let env = match build_env(source.to_string()) {
            Ok(env) => env,
            Err(err) => {
                tracing::warn!(error = %err, "the model's chat template does not compile; using ChatML");
                match build_env(CHATML_TEMPLATE.to_string()) {
                    Ok(env) => env,
                    // ChatML is a constant that compiles; an empty environment only fails render.
                    Err(_) => Environment::new(),
                }
            }
        };
        Self { env, bos_token: bos_token.to_string(), eos_token: eos_token.to_string() }
    }

    /// The prompt for `messages`, ending with the assistant's turn opener.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, String> {
        let messages: Vec<TemplateMessage> = messages
            .iter()
            .map(|m| TemplateMessage {
                // Templates of small models only know system/user/assistant(/tool).
                role: match m.role {
                    Role::Developer => "system",
                    other => other.as_str(),
                },
                content: m.text_content(),
            })
            .collect();
        let template = self.env.get_template("chat").map_err(|e| e.to_string())?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => true,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            })
            .map_err(|e| format!("chat template failed: {e}"))
    }
}

fn build_env(source: String) -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    // Hugging Face renders chat templates with these two flags; templates rely on them.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, msg))
    });
    env.add_function("strftime_now", |format: String| -> String { strftime_now(&format) });
    env.add_template_owned("chat", source)?;
    Ok(env)
}

/// The current UTC time in `format`; Llama 3 templates print today's date with it. Only the
/// directives those templates use are supported, so no date crate is needed.
fn strftime_now(format: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let month_name = MONTHS[(month - 1) as usize];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('Y') => out.push_str(&year.to_string()),
            Some('b') => out.push_str(&month_name[..3]),
            Some('B') => out.push_str(month_name),
            Some('H') => out.push_str(&format!("{:02}", rem / 3600)),
            Some('M') => out.push_str(&format!("{:02}", rem % 3600 / 60)),
            Some('S') => out.push_str(&format!("{:02}", rem % 60)),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::{ContentPart, MessageContent};

    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_smollm2_template_with_default_system_prompt() {
        let t = ChatTemplate::new(Some(SMOLLM2), "<|im_start|>", "<|im_end|>");
        let out = t.render(&[ChatMessage::text(Role::User, "Hi")]).unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn falls_back_to_chatml_and_joins_text_parts() {
        let t = ChatTemplate::new(Some("{% for %}"), "", "");
        let mut msg = ChatMessage::text(Role::Developer, "");
        msg.content = Some(MessageContent::Parts(vec![
            ContentPart::Text { text: "a".into() },
            ContentPart::Text { text: "b".into() },
        ]));
        let out = t.render(&[msg]).unwrap();
        assert_eq!(out, "<|im_start|>system\na\nb<|im_end|>\n<|im_start|>assistant\n");
        let none = ChatTemplate::new(None, "", "");
        assert!(none.render(&[ChatMessage::text(Role::User, "x")]).unwrap().starts_with("<|im_start|>user\nx"));
    }

    #[test]
    fn strftime_now_formats_a_plausible_date() {
        let s = strftime_now("%d %b %Y");
        assert_eq!(s.len(), 11, "{s}");
        assert!(s[7..].parse::<i32>().unwrap() >= 2024);
    }

    #[test]
    fn raise_exception_becomes_an_error() {
        let t = ChatTemplate::new(Some("{{ raise_exception('roles must alternate') }}"), "", "");
        let err = t.render(&[ChatMessage::text(Role::User, "x")]).unwrap_err();
        assert!(err.contains("roles must alternate"), "{err}");
    }
}
