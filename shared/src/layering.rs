//! The import graph of this crate's files, checked: no circle anywhere (a file
//! never depends, directly or through others, on itself), and handlers keep
//! out of the user cache. A dependency is any `crate::`, `super::` or `self::`
//! path a file names outside comments and its test module, followed through
//! `use` aliases and through the re-exports of `mod.rs` files to the file that
//! defines the item.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`["users", "store"]`) and the file that holds it.
struct Module {
    path: Vec<String>,
    file: PathBuf,
    text: String,
}

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn modules() -> Vec<Module> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable source folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = source_root();
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .map(|file| {
            let rel = file.strip_prefix(&root).expect("under src").with_extension("");
            let mut path: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if path.last().is_some_and(|l| l == "mod" || l == "lib") {
                path.pop();
            }
            let text = code_of(&std::fs::read_to_string(&file).expect("readable file"));
            Module { path, file, text }
        })
        .collect()
}

/// The text without comments and without the test module at the end.
fn code_of(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end].lines().map(|line| line.find("//").map_or(line, |i| &line[..i])).collect::<Vec<_>>().join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The `use` declarations of a file, flattened: (path, the name it binds).
fn uses(text: &str) -> Vec<(Vec<String>, String)> {
    fn expand(prefix: &str, body: &str, out: &mut Vec<(String, String)>) {
        let mut depth = 0;
        let mut start = 0;
        let mut parts = Vec::new();
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&body[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&body[start..]);
        for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
            let full = if prefix.is_empty() { part.to_owned() } else { format!("{prefix}::{part}") };
            if let (Some(open), true) = (full.find('{'), full.ends_with('}')) {
                expand(full[..open].trim_end_matches("::"), &full[open + 1..full.len() - 1], out);
            } else {
                let (path, alias) = match full.split_once(" as ") {
                    Some((p, a)) => (p.trim().to_owned(), a.trim().to_owned()),
                    None => {
                        let path = full.trim_end_matches("::self").to_owned();
                        let name = path.rsplit("::").next().unwrap_or("").to_owned();
                        (path, name)
                    }
                };
                out.push((path, alias));
            }
        }
    }
    let mut found = Vec::new();
    for statement in text.split(';') {
        let s = statement.trim();
        let s = s.strip_prefix("pub(crate) ").or_else(|| s.strip_prefix("pub ")).unwrap_or(s);
        if let Some(body) = s.strip_prefix("use ") {
            expand("", &body.split_whitespace().collect::<Vec<_>>().join(" "), &mut found);
        }
    }
    found.into_iter().map(|(path, alias)| (path.split("::").map(str::to_owned).collect(), alias)).collect()
}

struct Graph {
    by_path: BTreeMap<Vec<String>, usize>,
    modules: Vec<Module>,
}

impl Graph {
    fn new() -> Self {
        let modules = modules();
        let by_path = modules.iter().enumerate().map(|(i, m)| (m.path.clone(), i)).collect();
        Self { by_path, modules }
    }

    /// Whether module `m` defines `name` itself.
    fn defines(&self, m: usize, name: &str) -> bool {
        let text = &self.modules[m].text;
        ["fn", "struct", "enum", "const", "static", "type", "trait", "mod"].iter().any(|kind| {
            text.match_indices(&format!("{kind} {name}")).any(|(i, found)| {
                let after = text[i + found.len()..].chars().next();
                let before = text[..i].chars().next_back();
                !after.is_some_and(is_ident) && !before.is_some_and(is_ident)
            })
        })
    }

    /// The module whose file holds the item `path` names (an absolute path).
    fn resolve(&self, path: &[String]) -> Option<usize> {
        self.resolve_within(path, 8)
    }

    /// [`Graph::resolve`], following at most `hops` re-exports.
    fn resolve_within(&self, path: &[String], hops: usize) -> Option<usize> {
        let mut depth = 0;
        let mut current = *self.by_path.get(&Vec::new())?;
        while depth < path.len() {
            let mut next = path[..=depth].to_vec();
            if let Some(&m) = self.by_path.get(&next) {
                current = m;
                depth += 1;
                continue;
            }
            // Not a submodule: an item, maybe re-exported from a child.
            let name = &path[depth];
            if self.defines(current, name) {
                return Some(current);
            }
            for (target, alias) in uses(&self.modules[current].text) {
                if hops > 0 && (alias == *name || alias == "*") {
                    next = self.absolute(current, &target);
                    if alias == "*" {
                        next.pop();
                        next.push(name.clone());
                    }
                    if next != path
                        && let Some(m) = self.resolve_within(&next, hops - 1)
                        && (alias != "*" || self.defines(m, name))
                    {
                        return Some(m);
                    }
                }
            }
            return Some(current);
        }
        Some(current)
    }

    /// `path` as written in module `m`, made absolute (without `crate`).
    fn absolute(&self, m: usize, path: &[String]) -> Vec<String> {
        let here = &self.modules[m].path;
        let mut base: Vec<String> = match path.first().map(String::as_str) {
            Some("crate") => return path[1..].to_vec(),
            Some("super") => here[..here.len().saturating_sub(1)].to_vec(),
            Some("self") => here.clone(),
            // A child module named relatively (`use store::X` in a mod.rs).
            Some(first) if self.by_path.contains_key(&[here.clone(), vec![first.to_owned()]].concat()) => {
                let mut p = here.clone();
                p.extend(path.iter().cloned());
                return p;
            }
            _ => return Vec::new(),
        };
        let mut rest = &path[1..];
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        base
    }

    /// The files module `m` depends on.
    fn edges(&self, m: usize) -> BTreeSet<usize> {
        let module = &self.modules[m];
        let is_mod_file = module.file.ends_with("mod.rs") || module.file.ends_with("lib.rs");
        let mut targets = Vec::new();
        let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (path, alias) in uses(&module.text) {
            let abs = self.absolute(m, &path);
            if abs.is_empty() || (is_mod_file && path.first().is_some_and(|p| p != "crate" && p != "super")) {
                continue;
            }
            aliases.insert(alias, abs.clone());
            targets.push(abs);
        }
        // Inline paths: `crate::a::b`, `super::a`, and `alias::item`.
        let text = &module.text;
        for (i, _) in text.match_indices("::") {
            let start = text[..i].rfind(|c: char| !is_ident(c)).map_or(0, |s| s + 1);
            if text[..start].ends_with("::") {
                continue;
            }
            let head = &text[start..i];
            let tail: String = text[i + 2..].chars().take_while(|c| is_ident(*c) || *c == ':').collect();
            let mut path = vec![head.to_owned()];
            path.extend(tail.split("::").filter(|s| !s.is_empty()).map(str::to_owned));
            match head {
                "crate" | "super" | "self" => targets.push(self.absolute(m, &path)),
                _ => {
                    if let Some(base) = aliases.get(head) {
                        let mut full = base.clone();
                        full.extend(path[1..].iter().cloned());
                        targets.push(full);
                    }
                }
            }
        }
        targets.iter().filter_map(|t| self.resolve(t)).filter(|t| *t != m).collect()
    }
}

fn name(g: &Graph, m: usize) -> String {
    g.modules[m].file.strip_prefix(source_root()).unwrap_or(&g.modules[m].file).display().to_string()
}

#[test]
fn no_file_depends_on_itself_through_others() {
    let g = Graph::new();
    let edges: Vec<BTreeSet<usize>> = (0..g.modules.len()).map(|m| g.edges(m)).collect();
    // Depth-first search with colours; a grey node reached again closes a circle.
    let mut colour = vec![0u8; g.modules.len()];
    let mut circles = Vec::new();
    fn visit(
        m: usize,
        edges: &[BTreeSet<usize>],
        colour: &mut [u8],
        stack: &mut Vec<usize>,
        circles: &mut Vec<Vec<usize>>,
    ) {
        colour[m] = 1;
        stack.push(m);
        for &n in &edges[m] {
            if colour[n] == 1 {
                let from = stack.iter().position(|s| *s == n).unwrap_or(0);
                circles.push(stack[from..].to_vec());
            } else if colour[n] == 0 {
                visit(n, edges, colour, stack, circles);
            }
        }
        stack.pop();
        colour[m] = 2;
    }
    for m in 0..g.modules.len() {
        if colour[m] == 0 {
            visit(m, &edges, &mut colour, &mut Vec::new(), &mut circles);
        }
    }
    let described: Vec<String> =
        circles.iter().map(|c| c.iter().map(|m| name(&g, *m)).collect::<Vec<_>>().join(" → ")).collect();
    assert!(described.is_empty(), "import circles:\n{}", described.join("\n"));
}

#[test]
fn the_graph_sees_the_imports_it_should() {
    // Guards the checker itself: known dependencies must be found.
    let g = Graph::new();
    let find = |p: &str| *g.by_path.get(&p.split('/').map(str::to_owned).collect::<Vec<_>>()).expect("module");
    let depends = |from: &str, to: &str| g.edges(find(from)).contains(&find(to));
    assert!(depends("identity/change", "users/write"), "alias then item through a re-export");
    assert!(depends("identity/change", "identity/user_cache"), "super:: path");
    assert!(depends("users/write", "users/store"), "super::store");
    assert!(depends("auth/resolve", "http/state"), "crate:: path through a re-export");
    assert!(!depends("users/store", "identity/user_cache"), "the user store does not touch the cache");
}

#[test]
fn only_identity_writes_the_user_cache() {
    let root = source_root().join("..").join("..");
    let mut offenders = Vec::new();
    let mut stack = vec![root.join("functions"), source_root()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if !path.ends_with("identity") && !path.ends_with("target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = code_of(&std::fs::read_to_string(&path).expect("readable"));
                if ["user_cache::put", "user_cache::fill", "user_cache::invalidate", "user_cache::refresh"]
                    .iter()
                    .any(|w| text.contains(w))
                {
                    offenders.push(path.display().to_string());
                }
            }
        }
    }
    assert!(offenders.is_empty(), "only shared/src/identity writes the user cache: {offenders:?}");
}
