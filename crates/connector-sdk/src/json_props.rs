//! Property-test strategies for the connectors' response decoders (feature `proptest`): any
//! JSON value, item-shaped objects over the fields a mapper reads, and real bodies with one node
//! replaced or removed. One copy for every connector's "never panics" properties.

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value, a few levels deep.
pub fn json_value(fields: &'static [&'static str]) -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ -~]{0,10}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
        prop::sample::select(ODD_STRINGS).prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(field(fields), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Strings a platform sends where the mapper parses something: dates at chrono's ends and
/// beyond, ids, roles and scopes.
pub const ODD_STRINGS: &[&str] = &[
    "",
    "2024-01-31T10:00:00Z",
    "2024-01-31T10:00:00.000+00:00",
    "+262143-12-31T23:59:59Z",
    "-262143-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "2024-02-30",
    "2024-01-31",
    "18446744073709551616",
    "-1",
    "0",
    "read",
    "write",
    "admin",
    "a/b/c",
    "/",
    "é",
    "\u{0}",
];

/// A field name: one the mappers read, or any.
pub fn field(fields: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => prop::sample::select(fields).prop_map(str::to_owned),
        1 => "[a-zA-Z_]{0,8}",
    ]
}

/// An item-shaped object: fields the mappers read, values of any type.
pub fn item(fields: &'static [&'static str]) -> impl Strategy<Value = Value> + Clone {
    prop::collection::btree_map(field(fields), json_value(fields), 0..12)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// `v` with the node at `path` (each step an index into an object's or array's children)
/// replaced by `new`, or removed from its object or array when `remove`.
pub fn mutate(v: &mut Value, path: &[usize], new: Value, remove: bool) {
    let Some((&step, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let Some(key) = m.keys().nth(step % m.len()).cloned() else {
                return;
            };
            if rest.is_empty() && remove {
                m.remove(&key);
            } else if let Some(child) = m.get_mut(&key) {
                mutate(child, rest, new, remove);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = step % a.len();
            if rest.is_empty() && remove {
                a.remove(i);
            } else {
                mutate(&mut a[i], rest, new, remove);
            }
        }
        _ => *v = new,
    }
}

/// A real body with one node replaced or removed.
pub fn mutated(
    bodies: Vec<Value>,
    fields: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    (
        prop::sample::select(bodies),
        prop::collection::vec(any::<usize>(), 0..6),
        json_value(fields),
        any::<bool>(),
    )
        .prop_map(|(mut body, path, new, remove)| {
            mutate(&mut body, &path, new, remove);
            body
        })
}
