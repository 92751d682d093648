//! `--png DIR`: each chart's SVG rendered to PNG with `resvg` (pure Rust), text in the
//! system's fonts (fontdb). Without fonts the PNGs are still written (shapes only) and one
//! warning names the fix.

use std::path::{Path, PathBuf};

use super::{Chart, PageError, Result};

/// Renders `charts` into `dir/<name>.png` at twice the SVG's size; returns the files and
/// any warnings.
pub(super) fn write_all(charts: &[Chart], dir: &Path) -> Result<(Vec<PathBuf>, Vec<String>)> {
    std::fs::create_dir_all(dir).map_err(|source| PageError::Write { path: dir.to_path_buf(), source })?;
    let mut opt = resvg::usvg::Options::default();
    let fonts = opt.fontdb_mut();
    fonts.load_system_fonts();
    let mut warnings = Vec::new();
    let family = fonts
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .min_by_key(|name| (!name.starts_with("DejaVu Sans"), name.clone()));
    match family {
        Some(f) => fonts.set_sans_serif_family(f),
        None => warnings.push(
            "no system fonts found: the PNGs have no text; install fonts (Debian: apt-get install fonts-dejavu-core)"
                .to_string(),
        ),
    }
    let mut written = Vec::new();
    for c in charts {
        let path = dir.join(format!("{}.png", c.name));
        let err = |message: String| PageError::Png { path: path.clone(), message };
        let tree = resvg::usvg::Tree::from_str(&c.svg, &opt).map_err(|e| err(e.to_string()))?;
        let size = tree.size().to_int_size();
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width() * 2, size.height() * 2)
            .ok_or_else(|| err("empty chart".into()))?;
        pixmap.fill(resvg::tiny_skia::Color::WHITE);
        resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(2.0, 2.0), &mut pixmap.as_mut());
        let bytes = pixmap.encode_png().map_err(|e| err(e.to_string()))?;
        std::fs::write(&path, bytes).map_err(|source| PageError::Write { path: path.clone(), source })?;
        written.push(path);
    }
    Ok((written, warnings))
}
