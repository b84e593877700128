//! The request parsers never panic and accept exactly the documented language.

use cometgate::bus::{Cursor, Id, NameError, check_channel, check_event_type};
use cometgate::transport::iframe::check_callback;
use proptest::prelude::*;

/// The channel and event-type alphabet `A-Z a-z 0-9 _ . : -`, spelled out byte by byte.
fn in_name_alphabet(c: char) -> bool {
    matches!(c, 'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '.' | ':' | '-')
}

fn model_name(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.chars().count()) && text.chars().all(in_name_alphabet)
}

fn model_event_type(text: &str) -> Result<&str, NameError> {
    match text {
        "" => Ok("message"),
        _ if !model_name(text, 64) => Err(NameError::EventType),
        _ if text.starts_with("comet-") => Err(NameError::Reserved),
        _ => Ok(text),
    }
}

/// A JavaScript identifier in the ASCII subset the gateway documents: a letter, `_` or `$`,
/// then letters, digits, `_` or `$`.
fn model_identifier(part: &str) -> bool {
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == '$';
    let rest = |c: char| start(c) || c.is_ascii_digit();
    part.chars().next().is_some_and(start) && part.chars().all(rest)
}

fn model_callback(text: &str) -> bool {
    text.len() <= 128 && text.split('.').all(model_identifier)
}

/// `<hex epoch>-<decimal seq>`, each 1 to 20 digits and within a u64.
fn model_id(text: &str) -> Option<Id> {
    let (epoch, seq) = text.split_once('-')?;
    let shaped = |s: &str, ok: fn(&char) -> bool| (1..=20).contains(&s.len()) && s.chars().all(|c| ok(&c));
    if !shaped(epoch, char::is_ascii_hexdigit) || !shaped(seq, char::is_ascii_digit) {
        return None;
    }
    let epoch = u128::from_str_radix(epoch, 16).ok()?;
    let seq = seq.parse::<u128>().ok()?;
    Some(Id { epoch: u64::try_from(epoch).ok()?, seq: u64::try_from(seq).ok()? })
}

fn model_cursor(text: &str) -> Option<Cursor> {
    match text {
        "" => Some(Cursor::Live),
        "earliest" => Some(Cursor::Earliest),
        _ => model_id(text).map(Cursor::After),
    }
}

/// Near misses of a name: the alphabet plus characters that must be refused.
const NAME_LIKE: &str = "[A-Za-z0-9_.:\\- /%é\u{0}\u{2028}😀]{0,140}";
const EVENT_TYPE_LIKE: &str = "(comet-|comet|Comet-)?[A-Za-z0-9_.:\\- %]{0,70}";
const ID_LIKE: &str = "[0-9a-fA-FgG+ ]{0,22}(-[0-9a-f+ ]{0,22}){0,2}|earliest|Earliest|latest";
const CALLBACK_LIKE: &str = "([A-Za-z_$0-9][A-Za-z0-9_$]{0,12}\\.?){0,12}|[A-Za-z0-9_$.()\\[\\]; <>'\"-]{0,140}";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::CASES))]

    #[test]
    fn cursor_parse_accepts_exactly_empty_earliest_and_hex_dash_decimal(
        text in prop_oneof![any::<String>(), ID_LIKE]
    ) {
        prop_assert_eq!(Cursor::parse(&text).ok(), model_cursor(&text));
    }

    #[test]
    fn a_malformed_last_event_id_is_unknown_and_a_good_one_is_its_cursor(
        text in prop_oneof![any::<String>(), ID_LIKE]
    ) {
        let expected = model_cursor(&text).unwrap_or(Cursor::Unknown);
        prop_assert_eq!(Cursor::from_last_event_id(&text), expected);
    }

    #[test]
    fn any_id_round_trips_through_its_wire_form(epoch in any::<u64>(), seq in any::<u64>()) {
        let id = Id { epoch, seq };
        let wire = id.to_string();
        prop_assert_eq!(wire.parse::<Id>(), Ok(id));
        prop_assert_eq!(Cursor::parse(&wire), Ok(Cursor::After(id)));
    }

    #[test]
    fn channel_names_are_exactly_1_to_128_characters_of_the_alphabet(
        text in prop_oneof![any::<String>(), NAME_LIKE, "[A-Za-z0-9_.:-]{120,130}"]
    ) {
        let expected = if model_name(&text, 128) { Ok(()) } else { Err(NameError::Channel) };
        prop_assert_eq!(check_channel(&text), expected);
    }

    #[test]
    fn event_types_are_the_alphabet_up_to_64_with_comet_reserved_and_empty_as_message(
        text in prop_oneof![any::<String>(), NAME_LIKE, EVENT_TYPE_LIKE, "[a-z]{60,68}"]
    ) {
        prop_assert_eq!(check_event_type(&text), model_event_type(&text));
    }

    #[test]
    fn callbacks_are_exactly_dotted_javascript_identifiers_up_to_128(
        text in prop_oneof![any::<String>(), CALLBACK_LIKE, "([a-z]{1,9}\\.){12,14}[a-z]{1,9}"]
    ) {
        let accepted = check_callback(&text);
        prop_assert_eq!(accepted.is_ok(), model_callback(&text), "{:?}", text);
        if let Ok(callback) = accepted {
            prop_assert_eq!(callback, text.as_str());
        }
    }
}
