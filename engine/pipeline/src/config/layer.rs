//! Layering a file or an environment variable over the default table: a
//! key the default does not have is an error, and so is a value of another
//! type than the default's (the default says what each key holds), named
//! with where it was set ([`Origins`]).

use toml::{Table, Value};

use super::origin::Origins;
use crate::Result;

/// Whether the table at `path` (dotted) holds data (sink names, a job's
/// client names), not settings: any key is accepted there.
fn free_form(path: &str) -> bool {
    path == "sinks"
        || jobs::JOBS.iter().any(|j| {
            j.free_form_tables().iter().any(|t| {
                path.strip_prefix(j.name())
                    .and_then(|p| p.strip_prefix('.'))
                    == Some(t)
            })
        })
}

/// Whether `new` may stand where the default holds `default`: the same
/// TOML type, or an integer for a float.
fn fits(default: &Value, new: &Value) -> bool {
    matches!((default, new), (Value::Float(_), Value::Integer(_)))
        || default.type_str() == new.type_str()
}

/// "an integer", "a string", …
fn a(v: &Value) -> String {
    let t = v.type_str();
    let article = if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {t}")
}

/// The error for `new` set at `name` where the default holds `default`.
fn wrong_type(origins: &Origins, name: &str, default: &Value, new: &Value) -> crate::PipelineError {
    origins.error(
        name,
        format!("`{name}` must be {}, found {} ({new})", a(default), a(new)),
    )
}

/// Merges `over` (a file's table) into `base`; keys absent from the default
/// and values of another type are errors.
pub(super) fn merge(base: &mut Table, over: Table, prefix: &str, origins: &Origins) -> Result<()> {
    let free = free_form(prefix);
    for (k, v) in over {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if free {
            base.insert(k, v);
            continue;
        }
        match (base.get_mut(&k), v) {
            (None, _) => return Err(origins.error(&name, format!("unknown key `{name}`"))),
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o, &name, origins)?,
            (Some(slot), v) if !fits(slot, &v) => {
                return Err(wrong_type(origins, &name, slot, &v));
            }
            (Some(slot), v) => *slot = v,
        }
    }
    Ok(())
}

/// Reads an environment value as a TOML literal (`2`, `true`, `"x"`), or as a
/// plain string when it is not one or when the key holds a string (so that
/// `ALDEBARAN_JOURNAL__DIR=2024` is a directory, not a number).
fn env_value(raw: &str, default: Option<&Value>) -> Value {
    let doc = format!("v = {raw}");
    let literal = doc.parse::<Table>().ok().and_then(|mut t| t.remove("v"));
    match (literal, default) {
        (Some(v @ Value::String(_)), _) => v,
        (_, Some(Value::String(_))) | (None, _) => Value::String(raw.to_owned()),
        (Some(v), _) => v,
    }
}

/// Sets the key `path` (lowercased segments of variable `var`'s name) to
/// the variable's `raw` value.
pub(super) fn set_env(
    table: &mut Table,
    path: &[String],
    raw: &str,
    var: &str,
    origins: &mut Origins,
) -> Result<()> {
    let key = path.join(".");
    origins.set(key.clone(), format!("environment variable {var}"));
    set_path(table, path, path, raw, origins)
}

fn set_path(
    table: &mut Table,
    full: &[String],
    path: &[String],
    raw: &str,
    origins: &Origins,
) -> Result<()> {
    let key = full.join(".");
    let unknown = || origins.error(&key, format!("unknown key `{key}`"));
    match path {
        [] => Err(unknown()),
        [leaf] if free_form(&full[..full.len() - 1].join(".")) => {
            table.insert(leaf.clone(), env_value(raw, None));
            Ok(())
        }
        [leaf] => match table.get_mut(leaf) {
            Some(Value::Table(_)) | None => Err(unknown()),
            Some(slot) => {
                let v = env_value(raw, Some(slot));
                if !fits(slot, &v) {
                    return Err(wrong_type(origins, &key, slot, &v));
                }
                *slot = v;
                Ok(())
            }
        },
        [head, rest @ ..] => match table.get_mut(head) {
            Some(Value::Table(t)) => set_path(t, full, rest, raw, origins),
            _ => Err(unknown()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_value_is_a_literal_unless_the_key_holds_a_string() {
        let s = Value::String(String::new());
        let n = Value::Integer(0);
        assert_eq!(env_value("2", Some(&n)), Value::Integer(2));
        assert_eq!(env_value("2024", Some(&s)), Value::String("2024".into()));
        assert_eq!(env_value("\"x y\"", Some(&s)), Value::String("x y".into()));
        assert_eq!(
            env_value("info,lapin=off", Some(&s)),
            Value::String("info,lapin=off".into())
        );
        assert_eq!(env_value("lots", Some(&n)), Value::String("lots".into()));
        assert_eq!(env_value("true", None), Value::Boolean(true));
    }

    #[test]
    fn a_value_of_another_type_than_the_default_is_refused_where_it_was_set() {
        let mut base: Table = "[overfill]\nbook_ttl_ms = 60000\nratio = 0.5\n"
            .parse()
            .expect("toml");
        let mut origins = Origins::default();
        origins.set("overfill.book_ttl_ms".into(), "c.toml:2:1".into());
        let over: Table = "[overfill]\nbook_ttl_ms = \"abc\"\n".parse().expect("toml");
        let e = merge(&mut base, over, "", &origins)
            .expect_err("a string for an integer")
            .to_string();
        assert_eq!(
            e,
            "config: c.toml:2:1: `overfill.book_ttl_ms` must be an integer, found a string (\"abc\")"
        );
        // An integer where the default is a float is a float.
        let over: Table = "[overfill]\nratio = 1\n".parse().expect("toml");
        merge(&mut base, over, "", &origins).expect("an integer for a float");
    }
}
