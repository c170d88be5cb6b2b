//! GGUF validation done in Rust before a file reaches llama.cpp, whose loader aborts the
//! process on some malformed inputs instead of returning an error.

use crate::LocalError;
use candle_core::quantized::gguf_file::{Content, Value};
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

/// The four bytes every GGUF file starts with.
pub const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// What Gantry needs to know about a GGUF file before loading it.
#[derive(Debug, Clone)]
pub(crate) struct GgufInfo {
    /// `general.architecture`.
    pub architecture: String,
    /// `tokenizer.chat_template`, when the file carries one.
    pub chat_template: Option<String>,
    /// The BOS and EOS token texts, for templates that reference them.
    pub bos_token: String,
    pub eos_token: String,
}

/// Whether `path` starts with the GGUF magic; a cheap check used by model resolution.
pub fn has_gguf_magic(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == GGUF_MAGIC
}

/// Checks the magic, parses the whole header and checks every tensor lies inside the file.
pub(crate) fn inspect(path: &Path) -> Result<GgufInfo, LocalError> {
    let file = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            LocalError::NotFound { path: path.to_path_buf() }
        } else {
            LocalError::io("opening", path, e)
        }
    })?;
    let file_len = file.metadata().map_err(|e| LocalError::io("reading", path, e))?.len();
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 4];
    if reader.read_exact(&mut magic).is_err() || &magic != GGUF_MAGIC {
        return Err(LocalError::invalid(
            path,
            format!("not a GGUF file (starts with {magic:02x?}, expected the magic \"GGUF\")"),
        ));
    }
    reader.rewind().map_err(|e| LocalError::io("reading", path, e))?;
    let content =
        Content::read(&mut reader).map_err(|e| LocalError::invalid(path, format!("corrupt GGUF header: {e}")))?;
    if content.tensor_infos.is_empty() {
        return Err(LocalError::invalid(path, "the GGUF file contains no tensors"));
    }
    for (name, info) in &content.tensor_infos {
        let elems = info.shape.elem_count() as u64;
        let block = info.ggml_dtype.block_size() as u64;
        if block == 0 || !elems.is_multiple_of(block) {
            return Err(LocalError::invalid(path, format!("tensor {name} has a malformed shape")));
        }
        let size = elems / block * info.ggml_dtype.type_size() as u64;
        let end = content.tensor_data_offset.saturating_add(info.offset).saturating_add(size);
        if end > file_len {
            return Err(LocalError::invalid(
                path,
                format!("truncated: tensor {name} ends at byte {end} but the file has {file_len} bytes"),
            ));
        }
    }
    let text = |key: &str| match content.metadata.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let architecture =
        text("general.architecture").ok_or_else(|| LocalError::invalid(path, "missing general.architecture"))?;
    let token_text = |key: &str| -> String {
        let id = match content.metadata.get(key) {
            Some(Value::U32(v)) => Some(*v as usize),
            Some(Value::I32(v)) if *v >= 0 => Some(*v as usize),
            Some(Value::U64(v)) => Some(*v as usize),
            _ => None,
        };
        match (id, content.metadata.get("tokenizer.ggml.tokens")) {
            (Some(id), Some(Value::Array(tokens))) => match tokens.get(id) {
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            },
            _ => String::new(),
        }
    };
    Ok(GgufInfo {
        architecture,
        chat_template: text("tokenizer.chat_template").filter(|t| !t.trim().is_empty()),
        bos_token: token_text("tokenizer.ggml.bos_token_id"),
        eos_token: token_text("tokenizer.ggml.eos_token_id"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_gguf_and_truncated_files() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.gguf");
        std::fs::write(&junk, b"this is not a model").unwrap();
        let err = inspect(&junk).unwrap_err().to_string();
        assert!(err.contains("junk.gguf") && err.contains("not a GGUF file"), "{err}");
        assert!(!has_gguf_magic(&junk));

        let good = dir.path().join("tiny.gguf");
        crate::testing::write_tiny_llama_gguf(&good).unwrap();
        assert!(has_gguf_magic(&good));
        let info = inspect(&good).unwrap();
        assert_eq!(info.architecture, "llama");
        assert!(info.chat_template.is_some());
        assert_eq!(info.eos_token, "<|im_end|>");

        let bytes = std::fs::read(&good).unwrap();
        let cut = dir.path().join("cut.gguf");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let err = inspect(&cut).unwrap_err().to_string();
        assert!(err.contains("cut.gguf"), "{err}");

        let missing = inspect(&dir.path().join("nope.gguf")).unwrap_err();
        assert!(matches!(missing, LocalError::NotFound { .. }));
    }
}
