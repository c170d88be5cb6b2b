//! `gantry rag ingest|query|list|delete`: RAG collections through the same core the server
//! uses (in-process, with the embedded models), or through a running server with `--url`.

use super::Context;
use crate::progress::bar;
use crate::table;
use anyhow::{anyhow, bail, Context as _};
use clap::Subcommand;
use gantry_core::rag::{DocumentInput, Hit, IngestProgress, IngestReport, IngestRequest};
use gantry_core::{Progress, Service};
use gantry_types::CollectionInfo;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// File extensions ingested from directories.
const EXTENSIONS: [&str; 3] = ["txt", "md", "markdown"];
/// Largest request body `--url` ingests send (the server accepts up to 32 MiB).
const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;

/// RAG collection commands.
#[derive(Debug, Subcommand)]
pub enum RagCommand {
    /// Ingest text and Markdown files (directories recursively) into a collection, one
    /// document per file with its path as source; unchanged files are skipped.
    Ingest {
        collection: String,
        /// Files (.txt, .md, .markdown) and directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Characters per chunk (new collections; default from the config, 800).
        #[arg(long)]
        chunk_size: Option<u32>,
        /// Characters repeated between chunks (new collections; default 100).
        #[arg(long)]
        chunk_overlap: Option<u32>,
        /// A configured embeddings model (new collections; default the first one configured).
        #[arg(long)]
        embedding_model: Option<String>,
        /// Send to a running server instead, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
    },
    /// The chunks most similar to a question, with scores and sources.
    Query {
        collection: String,
        question: String,
        #[arg(long, default_value_t = 5)]
        top_k: i64,
        #[arg(long)]
        url: Option<String>,
    },
    /// Collections with their settings and counts.
    List {
        #[arg(long)]
        url: Option<String>,
    },
    /// Delete a collection with its documents and chunks.
    Delete {
        collection: String,
        #[arg(long)]
        url: Option<String>,
    },
}

/// Runs a rag subcommand.
pub async fn run(ctx: &Context, command: RagCommand) -> anyhow::Result<()> {
    match command {
        RagCommand::Ingest { collection, paths, chunk_size, chunk_overlap, embedding_model, url } => {
            let documents = read_documents(&paths)?;
            let request = IngestRequest { documents, chunk_size, chunk_overlap, embedding_model };
            let report = match url {
                Some(url) => ingest_remote(&url, &collection, request).await?,
                None => ingest_local(ctx, &collection, request).await?,
            };
            print!("{}", summary(&report));
            Ok(())
        }
        RagCommand::Query { collection, question, top_k, url } => {
            let hits: Vec<Hit> = match url {
                Some(url) => {
                    let path = format!("/api/collections/{collection}/query");
                    let body = json!({"query": question, "top_k": top_k});
                    serde_json::from_value(call(reqwest::Method::POST, &url, &path, Some(&body)).await?["data"].take())?
                }
                None => {
                    let top_k = gantry_core::rag::validate_top_k(top_k)?;
                    let config = ctx.load_config(None)?;
                    let service = Service::start(&config, Progress::Bar).await?;
                    let result = service.collections.query(&collection, &question, top_k).await;
                    service.shutdown().await;
                    result?
                }
            };
            print!("{}", ranked(&hits));
            Ok(())
        }
        RagCommand::List { url } => {
            let collections: Vec<CollectionInfo> = match url {
                Some(url) => serde_json::from_value(
                    call(reqwest::Method::GET, &url, "/api/collections", None).await?["data"].take(),
                )?,
                None => {
                    let config = ctx.load_config(None)?;
                    let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
                    store.list_collections().await?
                }
            };
            let rows: Vec<Vec<String>> = collections
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.settings.embedding_model.clone(),
                        c.settings.dimensions.to_string(),
                        format!("{}/{}", c.settings.chunk_size, c.settings.chunk_overlap),
                        c.documents.to_string(),
                        c.chunks.to_string(),
                        c.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &["NAME", "EMBEDDING MODEL", "DIMS", "CHUNK/OVERLAP", "DOCUMENTS", "CHUNKS", "CREATED (UTC)"],
                    &rows
                )
            );
            Ok(())
        }
        RagCommand::Delete { collection, url } => {
            match url {
                Some(url) => {
                    call(reqwest::Method::DELETE, &url, &format!("/api/collections/{collection}"), None).await?;
                }
                None => {
                    gantry_core::rag::validate_name(&collection)?;
                    let config = ctx.load_config(None)?;
                    let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
                    if !store.delete_collection(&collection).await? {
                        bail!("no collection named '{collection}'");
                    }
                }
            }
            println!("deleted collection '{collection}'");
            Ok(())
        }
    }
}

/// The files under `paths`: named files as they are, directories walked for text and Markdown.
fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            walk(path, &mut files)?;
        } else if has_text_extension(path) {
            files.push(path.clone());
        } else {
            bail!("{} is not a text or Markdown file (.txt, .md, .markdown)", path.display());
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn has_text_extension(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Adds the text files under `dir`, recursively; hidden entries (.git, ...) are skipped.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().with_context(|| format!("cannot read {}", path.display()))?;
        if kind.is_dir() {
            walk(&path, files)?;
        } else if kind.is_file() && has_text_extension(&path) {
            files.push(path);
        }
    }
    Ok(())
}

/// One document per file, its path (as given, without a leading `./`) as source.
fn read_documents(paths: &[PathBuf]) -> anyhow::Result<Vec<DocumentInput>> {
    let files = collect_files(paths)?;
    let mut documents = Vec::with_capacity(files.len());
    for file in files {
        let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let text = String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", file.display()))?;
        let source = file.display().to_string();
        let source = source.strip_prefix("./").unwrap_or(&source).to_string();
        if text.trim().is_empty() {
            eprintln!("skipping {source}: it is empty");
            continue;
        }
        documents.push(DocumentInput { source, text });
    }
    if documents.is_empty() {
        bail!("no text or Markdown files with content found in the given paths");
    }
    Ok(documents)
}

async fn ingest_local(ctx: &Context, collection: &str, request: IngestRequest) -> anyhow::Result<IngestReport> {
    let config = ctx.load_config(None)?;
    let service = Service::start(&config, Progress::Bar).await?;
    let progress = bar(0, "chunks");
    progress.set_message("embedding");
    let on_progress = |p: IngestProgress| {
        progress.set_length(p.chunks_total);
        progress.set_position(p.chunks_embedded);
    };
    let result = service.collections.ingest_with_progress(collection, request, &on_progress).await;
    progress.finish_and_clear();
    service.shutdown().await;
    Ok(result?)
}

/// Sends the documents in requests of at most `MAX_UPLOAD_BYTES`, adding up the reports.
async fn ingest_remote(url: &str, collection: &str, request: IngestRequest) -> anyhow::Result<IngestReport> {
    let path = format!("/api/collections/{collection}/documents");
    let progress = bar(request.documents.len() as u64, "documents");
    progress.set_message("ingesting");
    let mut total: Option<IngestReport> = None;
    let mut batch: Vec<DocumentInput> = Vec::new();
    let mut batch_bytes = 0;
    let mut documents = request.documents.into_iter().peekable();
    while let Some(doc) = documents.next() {
        batch_bytes += doc.text.len() + doc.source.len();
        batch.push(doc);
        let next_bytes = documents.peek().map_or(0, |d| d.text.len() + d.source.len());
        if documents.peek().is_some() && batch_bytes + next_bytes <= MAX_UPLOAD_BYTES {
            continue;
        }
        let body = json!({
            "documents": std::mem::take(&mut batch),
            "chunk_size": request.chunk_size,
            "chunk_overlap": request.chunk_overlap,
            "embedding_model": request.embedding_model,
        });
        let report: IngestReport = serde_json::from_value(call(reqwest::Method::POST, url, &path, Some(&body)).await?)?;
        progress.inc(report.documents.len() as u64);
        batch_bytes = 0;
        total = Some(match total {
            None => report,
            Some(mut sum) => {
                sum.created |= report.created;
                sum.documents_added += report.documents_added;
                sum.documents_replaced += report.documents_replaced;
                sum.documents_unchanged += report.documents_unchanged;
                sum.chunks_written += report.chunks_written;
                sum.chunks_removed += report.chunks_removed;
                sum.embedding_tokens += report.embedding_tokens;
                sum.documents.extend(report.documents);
                sum.trace_id = report.trace_id.or(sum.trace_id);
                sum
            }
        });
    }
    progress.finish_and_clear();
    total.ok_or_else(|| anyhow!("no documents to send"))
}

async fn call(method: reqwest::Method, url: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
    crate::remote::call(method, url, path, &[], body).await
}

fn summary(report: &IngestReport) -> String {
    let mut out = format!(
        "collection '{}'{}: {} added, {} replaced, {} unchanged document(s); {} chunk(s) written, {} removed; {} embedding tokens\n",
        report.collection,
        if report.created { " (created)" } else { "" },
        report.documents_added,
        report.documents_replaced,
        report.documents_unchanged,
        report.chunks_written,
        report.chunks_removed,
        report.embedding_tokens,
    );
    if let Some(id) = report.trace_id {
        out.push_str(&format!("trace: {id}\n"));
    }
    out
}

fn ranked(hits: &[Hit]) -> String {
    if hits.is_empty() {
        return "no chunks found (is the collection empty?)\n".to_string();
    }
    let mut out = String::new();
    for (i, hit) in hits.iter().enumerate() {
        out.push_str(&format!("{}. score {:.4}  {} #{}\n", i + 1, hit.score, hit.source, hit.chunk_index));
        for line in hit.text.lines() {
            out.push_str(format!("   {line}").trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_give_their_text_files_sorted_and_skip_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        for (file, text) in [
            ("b.md", "bee"),
            ("a.txt", "ay"),
            ("sub/c.markdown", "sea"),
            ("sub/deeper/d.MD", "dee"),
            ("sub/image.png", "x"),
            (".git/e.md", "hidden"),
            ("empty.txt", "  \n"),
        ] {
            std::fs::write(root.join(file), text).unwrap();
        }
        let documents = read_documents(&[root.to_path_buf()]).unwrap();
        let names: Vec<String> =
            documents.iter().map(|d| Path::new(&d.source).strip_prefix(root).unwrap().display().to_string()).collect();
        assert_eq!(names, vec!["a.txt", "b.md", "sub/c.markdown", "sub/deeper/d.MD"]);
        assert_eq!(documents[0].text, "ay");
        let err = read_documents(&[root.join("sub/image.png")]).unwrap_err();
        assert!(err.to_string().contains("is not a text or Markdown file"), "{err}");
        let err = read_documents(&[root.join("missing")]).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
