//! What every job's alert record shares: the payload serialiser and the id
//! builder.

/// A job's alert record as a journal payload: its JSON object, without
/// `seq` (the journal adds it). Every job builds its payload with this.
pub(crate) fn json_payload(record: &impl serde::Serialize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(320);
    // Alert records are structs of strings and integers: serialising them
    // into a Vec cannot fail, so a failure would be a bug in the record type.
    #[allow(clippy::expect_used)]
    serde_json::to_writer(&mut buf, record).expect("alert record serialises");
    buf
}

/// `part:part:…`: an alert id from its parts, joined by `:` (SPEC §3).
pub(crate) fn join_id(parts: &[&str]) -> String {
    let len = parts.iter().map(|p| p.len() + 1).sum::<usize>();
    let mut s = String::with_capacity(len);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(p);
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_join_with_colons() {
        assert_eq!(super::join_id(&["overfill", "o-1"]), "overfill:o-1");
        assert_eq!(super::join_id(&["a", "b", "c"]), "a:b:c");
    }
}
