//! Figures written into the docs by the commands that measured them, between
//! `<!-- name:begin -->` and `<!-- name:end -->`, so nobody types them by hand.

use std::fs;

use anyhow::Context;

use crate::paths::Paths;
use crate::ui;

/// `doc` with the text between `name`'s markers replaced by `body`.
pub fn replace_between(doc: &str, name: &str, body: &str) -> anyhow::Result<String> {
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let (head, rest) = doc
        .split_once(&begin)
        .with_context(|| format!("no {begin} marker"))?;
    let (_, tail) = rest
        .split_once(&end)
        .with_context(|| format!("no {end} marker"))?;
    Ok(format!("{head}{begin}\n{body}{end}{tail}"))
}

/// Records `body` in `doc` (relative to the checkout), stamped with the command, the
/// time and the machine's cores.
pub fn between_markers(
    paths: &Paths,
    doc: &str,
    name: &str,
    command: &str,
    body: &str,
) -> anyhow::Result<()> {
    let path = paths.root.join(doc);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let when = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let stamped = format!("Recorded by `{command}` on {when} ({cores} cores).\n\n{body}");
    let updated =
        replace_between(&text, name, &stamped).with_context(|| format!("in {}", path.display()))?;
    fs::write(&path, updated).with_context(|| format!("writing {}", path.display()))?;
    ui::detail(&format!("recorded in {doc}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_text_between_the_markers_changes() {
        let doc = "intro\n<!-- x:begin -->\nold\n<!-- x:end -->\noutro\n";
        assert_eq!(
            replace_between(doc, "x", "new\n").unwrap(),
            "intro\n<!-- x:begin -->\nnew\n<!-- x:end -->\noutro\n"
        );
        assert!(replace_between(doc, "y", "new\n").is_err());
        assert!(replace_between("<!-- x:begin --> no end", "x", "").is_err());
    }
}
