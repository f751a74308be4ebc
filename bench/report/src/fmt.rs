//! Number formatting and markdown tables.

/// A short form for axes and headlines: 1.23M, 456k, 12.5.
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", sig(scaled))
}

/// Three significant figures, no trailing zeros past the point.
pub fn sig(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A whole number with thousands separators: 1,234,567.
pub fn int(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let rounded = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, ch) in rounded.chars().enumerate() {
        if i > 0 && (rounded.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if v < 0.0 && rounded != "0" {
        out.insert(0, '-');
    }
    out
}

/// A fixed number of decimals.
pub fn fixed(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

/// A ratio such as 3.14×, or — when there is none.
pub fn times(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("{}×", fixed(r, 2)),
        None => "—".to_string(),
    }
}

/// A markdown table; the first column left-aligned, the others right-aligned.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let align: Vec<&str> = (0..header.len())
        .map(|i| if i == 0 { ":---" } else { "---:" })
        .collect();
    out.push_str(&format!("|{}|\n", align.join("|")));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_grouped_numbers() {
        assert_eq!(si(1_234_567.0), "1.23M");
        assert_eq!(si(100_000_000.0), "100M");
        assert_eq!(si(10_000_000.0), "10M");
        assert_eq!(si(456.0), "456");
        assert_eq!(si(0.5), "0.5");
        assert_eq!(int(1_234_567.4), "1,234,567");
        assert_eq!(int(999.0), "999");
        assert_eq!(int(-1000.0), "-1,000");
        assert_eq!(times(Some(0.5)), "0.50×");
        assert_eq!(times(None), "—");
    }

    #[test]
    fn markdown_table() {
        let t = table(&["a", "b"], &[vec!["x".into(), "1".into()]]);
        assert_eq!(t, "| a | b |\n|:---|---:|\n| x | 1 |\n");
    }
}
