//! One module a subcommand.

pub mod alerts;
pub mod chains;
pub mod chat;
pub mod datasets;
pub mod deploy;
pub mod deploy_experiments;
pub mod eval;
pub mod feedback;
pub mod guard;
pub mod keys;
pub mod models;
pub mod monitor;
pub mod prompts;
pub mod rag;
pub mod review;
pub mod serve;
pub mod status;
pub mod traces;

use gantry_core::{Config, Overrides};
use std::path::{Path, PathBuf};

/// Options every subcommand shares.
pub struct Context {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
}

impl Context {
    /// Loads and validates the config, with the command line's overrides.
    pub fn load_config(&self, listen: Option<String>) -> anyhow::Result<Config> {
        let default_file = Path::new("gantry.toml");
        let path = self.config.as_deref().or_else(|| default_file.exists().then_some(default_file));
        let overrides = Overrides {
            data_dir: self.data_dir.clone(),
            listen,
            database_url: std::env::var("GANTRY_DATABASE_URL").ok().filter(|u| !u.is_empty()),
        };
        Ok(gantry_core::config::load(path, overrides)?)
    }
}
