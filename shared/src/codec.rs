//! The wire encoding: bincode 2 with its standard configuration (little endian, variable
//! length integers, zigzag for signed ones), one message per WebSocket frame.
//!
//! Decoding is bounded: bincode's `with_limit` caps what a length prefix may make it
//! allocate, so a forged length cannot reserve memory beyond the frame-sized limit, and
//! trailing bytes after a message are an error rather than silently ignored.

// Peer-controlled bytes flow through this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use bincode::config::{self, Config};
use serde::{Serialize, de::DeserializeOwned};

use crate::protocol::{ClientMessage, EntityState, ServerMessage};

/// Largest client message the decoder accepts, in bytes. Client messages are tiny (a
/// `Hello` with a 16-character name is under 80 bytes); the limit leaves room for growth.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 1024;

/// Largest server message a client decoder accepts: a full snapshot of a crowded room.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// A message that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("decode failed: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    #[error("encode failed: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("{0} unexpected bytes after the message")]
    TrailingBytes(usize),
}

fn client_config() -> impl Config {
    config::standard().with_limit::<MAX_CLIENT_MESSAGE_BYTES>()
}

fn server_config() -> impl Config {
    config::standard().with_limit::<MAX_SERVER_MESSAGE_BYTES>()
}

fn decode_exact<T: DeserializeOwned>(bytes: &[u8], cfg: impl Config) -> Result<T, CodecError> {
    let (value, read) = bincode::serde::decode_from_slice::<T, _>(bytes, cfg)?;
    match bytes.len().checked_sub(read) {
        Some(0) => Ok(value),
        Some(extra) => Err(CodecError::TrailingBytes(extra)),
        // bincode never reports reading more than it was given; treat it as trailing 0.
        None => Ok(value),
    }
}

/// Encodes any protocol value with the wire configuration.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    Ok(bincode::serde::encode_to_vec(value, config::standard())?)
}

/// Appends the encoding of `value` to `buf`, reusing its allocation.
pub fn encode_into<T: Serialize>(value: &T, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    bincode::serde::encode_into_std_write(value, buf, config::standard())?;
    Ok(())
}

/// Decodes one client message (server side). Never panics, whatever the bytes.
pub fn decode_client(bytes: &[u8]) -> Result<ClientMessage, CodecError> {
    if bytes.len() > MAX_CLIENT_MESSAGE_BYTES {
        return Err(CodecError::TrailingBytes(
            bytes.len() - MAX_CLIENT_MESSAGE_BYTES,
        ));
    }
    decode_exact(bytes, client_config())
}

/// The protocol version of a `Hello`, read from its first bytes only (the tag, then
/// the version), for messages that do not decode as this version's `Hello`: a client of
/// another version gets told so (4001) rather than that its bytes are garbage (4000).
pub fn peek_hello_version(bytes: &[u8]) -> Option<u16> {
    let ((tag, version), _) =
        bincode::serde::decode_from_slice::<(u32, u16), _>(bytes, client_config()).ok()?;
    (tag == 0).then_some(version)
}

/// Decodes one server message (client side). Never panics, whatever the bytes.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMessage, CodecError> {
    decode_exact(bytes, server_config())
}

/// Index of [`ServerMessage::FullSnapshot`] in the enum: bincode writes it as the tag.
const FULL_SNAPSHOT_TAG: u32 = 4;

/// Encodes the entity list of a full snapshot once, for [`encode_full_snapshot_with_body`].
///
/// Every client of a full-state snapshot receives the same entities and differs only in
/// `last_input_seq`; encoding the list once per tick instead of once per client keeps
/// the per-client cost to a short header and a copy.
pub fn encode_full_snapshot_body(entities: &[EntityState]) -> Result<Vec<u8>, CodecError> {
    encode(&entities)
}

/// Produces exactly the bytes of `ServerMessage::FullSnapshot(FullSnapshot { tick,
/// last_input_seq, entities })` from a body made by [`encode_full_snapshot_body`].
pub fn encode_full_snapshot_with_body(
    tick: u32,
    last_input_seq: u32,
    body: &[u8],
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(body.len() + 11);
    encode_into(&(FULL_SNAPSHOT_TAG, tick, last_input_seq), &mut out)?;
    out.extend_from_slice(body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::{MapInfo, WallRect};

    #[test]
    fn the_version_of_an_older_hello_can_be_read() {
        // A protocol v2 Hello: tag 0, version 2, name "ada" (no tokens).
        let v2 = [0, 2, 3, b'a', b'd', b'a'];
        assert!(decode_client(&v2).is_err());
        assert_eq!(peek_hello_version(&v2), Some(2));
        assert_eq!(peek_hello_version(&[1, 2, 3]), None, "not a Hello");
        assert_eq!(peek_hello_version(&[]), None);
    }
    use crate::protocol::*;
    use proptest::prelude::*;

    prop_compose! {
        fn entity()(id: u32, present: u32, ints in prop::collection::vec(any::<i32>(), 0..12),
                    texts in prop::collection::vec("\\PC{0,16}", 0..3)) -> EntityState {
            EntityState { id, present, values: std::sync::Arc::new(crate::schema::Values { ints, texts }) }
        }
    }

    fn client_message() -> impl Strategy<Value = ClientMessage> {
        prop_oneof![
            (any::<u16>(), "\\PC{0,20}", "[!-~]{0,40}", "[!-~]{0,40}").prop_map(
                |(protocol_version, name, join_token, resume_token)| {
                    ClientMessage::Hello(Hello {
                        protocol_version,
                        name,
                        join_token,
                        resume_token,
                    })
                }
            ),
            (
                any::<(u32, u32)>(),
                prop::collection::vec(any::<(i8, i8, u16, u8)>(), 0..=MAX_INPUT_FRAMES),
            )
                .prop_map(|((seq, ack_tick), frames)| {
                    ClientMessage::Input(Input {
                        seq,
                        ack_tick,
                        frames: frames
                            .into_iter()
                            .map(|(move_x, move_y, aim, buttons)| Intent {
                                move_x,
                                move_y,
                                aim,
                                buttons,
                            })
                            .collect(),
                    })
                }),
            any::<u32>().prop_map(|client_time| ClientMessage::Ping(Ping { client_time })),
            any::<(u16, u32)>().prop_map(|(rate, max_bytes_per_sec)| {
                ClientMessage::SnapshotSettings(SnapshotSettings {
                    rate,
                    max_bytes_per_sec,
                })
            }),
            any::<u32>().prop_map(|tick| ClientMessage::Desync(Desync { tick })),
        ]
    }

    fn server_message() -> impl Strategy<Value = ServerMessage> {
        let wall =
            any::<(i32, i32, i32, i32)>().prop_map(|(min_x, min_y, max_x, max_y)| WallRect {
                min_x,
                min_y,
                max_x,
                max_y,
            });
        prop_oneof![
            (
                any::<(u32, u32, u16, u16)>(),
                crate::delta::tests::schema(),
                "\\PC{0,12}",
                any::<(i32, i32)>(),
                prop::collection::vec(wall, 0..8)
            )
                .prop_map(
                    |(
                        (client_id, entity, tick_rate, snapshot_rate),
                        schema,
                        name,
                        (width, height),
                        walls,
                    )| {
                        ServerMessage::Welcome(Welcome {
                            client_id,
                            entity,
                            tick_rate,
                            snapshot_rate,
                            map: MapInfo {
                                name,
                                width,
                                height,
                                walls,
                            },
                            aoi_radius: 3072,
                            packing: Packing::Bits,
                            settings: SnapshotSettings {
                                rate: snapshot_rate,
                                max_bytes_per_sec: 8192,
                            },
                            room: "duel-1".into(),
                            player: format!("p{client_id}"),
                            resume_token: "r.token".into(),
                            resume_grace_s: tick_rate,
                            schema,
                            resumed: entity % 2 == 0,
                        })
                    }
                ),
            (
                any::<u32>(),
                any::<u32>(),
                prop::collection::vec(entity(), 0..40)
            )
                .prop_map(|(tick, last_input_seq, entities)| {
                    ServerMessage::FullSnapshot(FullSnapshot {
                        tick,
                        last_input_seq,
                        entities,
                    })
                }),
            (
                any::<(u32, u32, u32, u32)>(),
                prop::collection::vec(any::<u8>(), 0..64)
            )
                .prop_map(|((tick, baseline, last_input_seq, checksum), payload)| {
                    ServerMessage::Snapshot(Snapshot {
                        tick,
                        // A baseline is 0 (a keyframe) or a tick before `tick`; the
                        // wire has no way to say anything else.
                        baseline: match tick {
                            0 | 1 => 0,
                            _ => baseline % tick,
                        },
                        last_input_seq,
                        checksum,
                        payload,
                    })
                }),
            any::<(u16, u32)>().prop_map(|(rate, max_bytes_per_sec)| {
                ServerMessage::SnapshotSettings(SnapshotSettings {
                    rate,
                    max_bytes_per_sec,
                })
            }),
            any::<(u32, u32)>().prop_map(|(client_time, server_tick)| {
                ServerMessage::Pong(Pong {
                    client_time,
                    server_tick,
                })
            }),
        ]
    }

    proptest! {
        #[test]
        fn client_messages_round_trip(msg in client_message()) {
            let bytes = encode(&msg).unwrap();
            prop_assert_eq!(decode_client(&bytes).unwrap(), msg);
        }

        #[test]
        fn server_messages_round_trip(msg in server_message()) {
            let bytes = encode(&msg).unwrap();
            prop_assert_eq!(decode_server(&bytes).unwrap(), msg);
        }

        #[test]
        fn spliced_snapshots_equal_whole_encoding(tick: u32, seq: u32,
                entities in prop::collection::vec(entity(), 0..20)) {
            let body = encode_full_snapshot_body(&entities).unwrap();
            let spliced = encode_full_snapshot_with_body(tick, seq, &body).unwrap();
            let whole = encode(&ServerMessage::FullSnapshot(FullSnapshot {
                tick, last_input_seq: seq, entities,
            })).unwrap();
            prop_assert_eq!(spliced, whole);
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoders(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode_client(&bytes);
            let _ = decode_server(&bytes);
        }
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&ClientMessage::Ping(Ping { client_time: 7 })).unwrap();
        bytes.push(0);
        assert!(matches!(
            decode_client(&bytes),
            Err(CodecError::TrailingBytes(1))
        ));
    }

    #[test]
    fn forged_lengths_do_not_allocate() {
        // Hello with a name claiming 2^32-1 bytes: tag 0, version 1, then a u32 varint
        // (251 marker is u16; 252 is u32) announcing the length.
        let bytes = [0u8, 1, 252, 0xff, 0xff, 0xff, 0xff];
        assert!(decode_client(&bytes).is_err());
    }

    #[test]
    fn input_encoding_is_small() {
        let intent = Intent {
            move_x: -127,
            move_y: 0,
            aim: 300,
            buttons: 1,
        };
        let one = encode(&ClientMessage::Input(Input::one(100, 1000, intent))).unwrap();
        // tag, seq, ack_tick(3), frame count, move_x, move_y, aim(3), buttons
        assert_eq!(one.len(), 12);
        let mut three = Input::one(100, 1000, intent);
        three.frames.extend([Intent::default(); 2]);
        // Each further frame: move_x, move_y, aim(1 for 0), buttons.
        assert_eq!(
            encode(&ClientMessage::Input(three)).unwrap().len(),
            12 + 2 * 4
        );
    }

    #[test]
    fn inputs_of_too_many_frames_do_not_decode() {
        let mut input = Input::one(1, 0, Intent::default());
        input
            .frames
            .extend([Intent::default(); MAX_INPUT_FRAMES - 1]);
        let mut bytes = encode(&ClientMessage::Input(input)).unwrap();
        assert!(decode_client(&bytes).is_ok());
        // One more frame: the count byte (index 3: tag, seq 1, ack 0) and its four bytes.
        bytes[3] += 1;
        bytes.extend([0, 0, 0, 0]);
        assert!(decode_client(&bytes).is_err());
    }
}

#[cfg(test)]
mod strictness {
    //! How strict decoding is, as PROTOCOL.md ("Encoding") states it.
    use super::*;
    use crate::protocol::{ClientMessage, Ping};

    #[test]
    fn non_shortest_varints_are_accepted_bools_must_be_0_or_1_trailing_bytes_are_not() {
        let ping = ClientMessage::Ping(Ping { client_time: 5 });
        // The encoder writes the shortest form...
        assert_eq!(encode(&ping).unwrap(), [2, 5]);
        // ...and decoders accept longer ones no wider than the type, for the tag (a
        // u32) and for values alike; a marker wider than the type is an error.
        for bytes in [&[2, 251, 5, 0][..], &[2, 252, 5, 0, 0, 0], &[251, 2, 0, 5]] {
            assert_eq!(decode_client(bytes).unwrap(), ping, "{bytes:?}");
        }
        assert!(decode_client(&[2, 253, 5, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(matches!(
            decode_exact::<bool>(&[2], server_config()),
            Err(CodecError::Decode(_))
        ));
        assert!(decode_exact::<bool>(&[1], server_config()).unwrap());
        assert!(matches!(
            decode_client(&[2, 5, 0]),
            Err(CodecError::TrailingBytes(1))
        ));
    }
}
