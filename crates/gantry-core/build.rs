//! Puts the fetched given-name lexicon (lexicons/given_names.txt, see its README) where the
//! PII scanner includes it from; an empty list when it has not been fetched.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let source = Path::new("lexicons").join("given_names.txt");
    println!("cargo:rerun-if-changed=lexicons");
    let out = Path::new(&std::env::var("OUT_DIR")?).join("given_names.txt");
    let names = std::fs::read_to_string(&source).unwrap_or_else(|_| {
        println!(
            "cargo:warning=lexicons/given_names.txt is missing: person names are found from context cues only \
             (run scripts/fetch-given-names.py)"
        );
        String::new()
    });
    std::fs::write(&out, names)?;
    Ok(())
}
