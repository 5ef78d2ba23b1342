//! Chat templates. We do not run Jinja: we recognise the ChatML family (SmolLM2, Qwen), whose
//! GGUF/HF template we read for its default system prompt, and offer a plain template with a
//! `{prompt}` placeholder for base models and the toy task.

#[derive(Debug, Clone, PartialEq)]
pub enum ChatTemplate {
    /// `<|im_start|>role\ncontent<|im_end|>\n` per message, then `<|im_start|>assistant\n`.
    ChatMl { default_system: Option<String> },
    /// The prompt substituted into `{prompt}` (just the prompt when the text is `{prompt}`).
    Plain(String),
}

impl ChatTemplate {
    /// Recognises a model's Jinja template. `None` when it is not a family we render.
    pub fn from_jinja(template: &str) -> Option<ChatTemplate> {
        if !template.contains("<|im_start|>") {
            return None;
        }
        // SmolLM2 inserts a default system message when the first message is not a system one.
        // Inside the Jinja string literal the newline is either a real one or an escaped `\n`.
        let default_system = ["<|im_start|>system\n", "<|im_start|>system\\n"]
            .iter()
            .find_map(|marker| {
                let at = template.find(marker)?;
                let rest = &template[at + marker.len()..];
                let text = &rest[..rest.find("<|im_end|>")?];
                (!text.contains('{') && !text.contains('\'')).then(|| text.to_string())
            });
        Some(ChatTemplate::ChatMl { default_system })
    }

    /// The text the model sees before its answer, for one user message.
    pub fn render(&self, prompt: &str) -> String {
        match self {
            ChatTemplate::ChatMl { default_system } => {
                let mut out = String::new();
                if let Some(system) = default_system {
                    out.push_str(&format!("<|im_start|>system\n{system}<|im_end|>\n"));
                }
                out.push_str(&format!(
                    "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
                ));
                out
            }
            ChatTemplate::Plain(pattern) => pattern.replace("{prompt}", prompt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_smollm2_default_system_prompt() {
        let jinja = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
        let t = ChatTemplate::from_jinja(jinja).unwrap();
        assert_eq!(
            ChatTemplate::from_jinja(&jinja.replace("\\n", "\n")),
            Some(t.clone())
        );
        assert_eq!(
            t.render("Hi"),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }
}
