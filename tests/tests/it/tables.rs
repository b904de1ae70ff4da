//! The table definitions exist once: the local stack's JSON files are generated
//! from them and must agree.

use shared::db::tables::{TABLES, create_table_json};
use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn localstack_table_files_match_the_code() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../localstack/tables");
    let mut seen = BTreeSet::new();
    for def in TABLES {
        let path = dir.join(format!("{}.json", def.name));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate with `cargo run -p krv-server -- table-json localstack/tables`)",
                path.display()
            )
        });
        let file: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            file,
            create_table_json("kohakuriver", def),
            "{} differs from the code; regenerate with `cargo run -p krv-server -- table-json localstack/tables`",
            path.display()
        );
        seen.insert(format!("{}.json", def.name));
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("localstack/tables exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(on_disk, seen, "table files without a definition in code");
}
