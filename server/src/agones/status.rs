//! What a node tells Agones: its rooms, players and seats, read from the room registry,
//! and the labels and counter values that say it.

use crate::control::registry::RoomRegistry;
use crate::room::Seats;

/// Counter of open rooms (capacity: `--max-rooms`).
pub const ROOMS_COUNTER: &str = "rooms";
/// Counter of seats not free (capacity: every room's seats), so that the available
/// capacity a FleetAutoscaler Counter policy keeps a buffer of is the free seats.
pub const PLAYERS_COUNTER: &str = "players";
/// Labels (the SDK prefixes them with `agones.dev/sdk-`).
pub const ROOMS_LABEL: &str = "rooms";
pub const PLAYERS_LABEL: &str = "players";
pub const FREE_SEATS_LABEL: &str = "free-seats";

/// A node's rooms and seats at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// Open rooms.
    pub rooms: u64,
    /// Connected players.
    pub players: u64,
    /// Seats of every open room (the sum of their `max_players`).
    pub seats: u64,
    /// Seats taken by a player, held for one that may resume, or reserved by a join
    /// token; never more than a room's seats, room by room.
    pub taken: u64,
}

/// One value the node reports: a label, or a counter's count or capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Report {
    Label(&'static str),
    Capacity(&'static str),
    Count(&'static str),
}

impl NodeStatus {
    /// The status of rooms given as (seats, `max_players`).
    pub fn of_rooms(rooms: impl IntoIterator<Item = (Seats, u32)>) -> NodeStatus {
        rooms
            .into_iter()
            .fold(NodeStatus::default(), |mut s, (seats, max_players)| {
                s.rooms += 1;
                s.players += u64::from(seats.players);
                s.seats += u64::from(max_players);
                // A room never seats more than it has, but the atomics it publishes are read
                // one by one: clamp, so that a counter's count never exceeds its capacity.
                s.taken += u64::from(seats.taken().min(max_players));
                s
            })
    }

    /// The registry's open rooms now (a closed room that is still finishing its tick offers
    /// no seat).
    pub fn read(registry: &RoomRegistry) -> NodeStatus {
        NodeStatus::of_rooms(registry.list().into_iter().filter_map(|(room, _)| {
            (!room.is_closed()).then(|| (room.seats(), room.config().settings.max_players))
        }))
    }

    pub fn free_seats(&self) -> u64 {
        self.seats - self.taken
    }

    /// Every value to report, in the order to send them: each counter's capacity before
    /// its count, so that a count never exceeds the capacity the sidecar knows (it refuses
    /// such a count).
    pub fn reports(&self, max_rooms: usize) -> [(Report, i64); 7] {
        let rooms_capacity = u64::try_from(max_rooms).unwrap_or(u64::MAX);
        [
            (
                Report::Capacity(ROOMS_COUNTER),
                int(rooms_capacity.max(self.rooms)),
            ),
            (Report::Count(ROOMS_COUNTER), int(self.rooms)),
            (Report::Capacity(PLAYERS_COUNTER), int(self.seats)),
            (Report::Count(PLAYERS_COUNTER), int(self.taken)),
            (Report::Label(ROOMS_LABEL), int(self.rooms)),
            (Report::Label(PLAYERS_LABEL), int(self.players)),
            (Report::Label(FREE_SEATS_LABEL), int(self.free_seats())),
        ]
    }
}

/// Counters are int64 in Agones; a node's numbers are far below that.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seats(players: u32, held: u32, reserved: u32) -> Seats {
        Seats {
            players,
            held,
            reserved,
        }
    }

    #[test]
    fn sums_rooms_and_counts_held_and_reserved_seats_as_taken() {
        let s = NodeStatus::of_rooms([
            (seats(3, 1, 2), 8),
            (seats(0, 0, 0), 4),
            (seats(2, 0, 0), 2),
        ]);
        assert_eq!(
            s,
            NodeStatus {
                rooms: 3,
                players: 5,
                seats: 14,
                taken: 8,
            }
        );
        assert_eq!(s.free_seats(), 6);
        assert_eq!(NodeStatus::of_rooms([]), NodeStatus::default());
    }

    #[test]
    fn a_room_never_counts_more_taken_seats_than_it_has() {
        // Counts read while a seat moves from reserved to taken can add up to one more.
        let s = NodeStatus::of_rooms([(seats(2, 0, 1), 2), (seats(0, 0, 0), 5)]);
        assert_eq!((s.seats, s.taken, s.free_seats()), (7, 2, 5));
    }

    #[test]
    fn reports_capacities_before_counts_and_labels_as_digits() {
        let s = NodeStatus {
            rooms: 2,
            players: 1,
            seats: 10,
            taken: 3,
        };
        let reports = s.reports(200);
        assert_eq!(
            reports,
            [
                (Report::Capacity("rooms"), 200),
                (Report::Count("rooms"), 2),
                (Report::Capacity("players"), 10),
                (Report::Count("players"), 3),
                (Report::Label("rooms"), 2),
                (Report::Label("players"), 1),
                (Report::Label("free-seats"), 7),
            ]
        );
        // The rooms counter's capacity never falls below its count.
        assert_eq!(s.reports(1)[0], (Report::Capacity("rooms"), 2));
    }
}
