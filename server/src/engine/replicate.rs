//! How a game says what replicates: components implement [`Replicated`] (a name, their
//! fields with wire kinds, and how to write their values), and the game registers them
//! on a [`Replication`] (`replication.add::<C>()`, after bevy_replicon's
//! `app.replicate::<C>()`). The registration order is the schema's component order; the
//! schema goes to every client in `Welcome`, so no client, codec or engine code knows a
//! game's fields by name.

use bevy_ecs::change_detection::Tick;
use bevy_ecs::prelude::*;
use bevy_ecs::query::{QueryFilter, QueryState};
use shared::schema::{ComponentDef, FieldDef, FieldWriter, Schema};

use super::NetId;

/// A component that replicates. Implement it in the game's own code:
///
/// ```ignore
/// impl Replicated for Possession {
///     const NAME: &'static str = "Possession";
///     fn fields() -> Vec<FieldDef> {
///         vec![FieldDef { name: "holder".into(), kind: FieldKind::Entity }]
///     }
///     fn write(&self, out: &mut FieldWriter) {
///         out.entity(self.holder.0);
///     }
/// }
/// ```
///
/// Systems must mark the component changed exactly when a written value changes (bevy's
/// change detection: `set_if_neq`, or `bypass_change_detection` for fields that are not
/// written): replication re-reads only entities with a changed replicated component.
pub trait Replicated: Component {
    /// The component's name in the schema (unique in the game).
    const NAME: &'static str;
    /// Its fields, in the order [`Replicated::write`] writes them.
    fn fields() -> Vec<FieldDef>;
    /// Writes every field, in declared order.
    fn write(&self, out: &mut FieldWriter<'_>);
}

/// One registered component's queries in one World.
pub trait ComponentRule: Send + Sync {
    /// Calls `f` with every replicated entity that has the component, and the tick it
    /// last changed.
    fn scan(&mut self, world: &World, f: &mut dyn FnMut(Entity, Tick));
    /// Writes `entity`'s component; false if it has none.
    fn write(&mut self, world: &World, entity: Entity, out: &mut FieldWriter<'_>) -> bool;
}

struct Rule<C: Replicated, F: QueryFilter + 'static> {
    scan: QueryState<(Entity, Ref<'static, C>), (F, With<NetId>)>,
    get: QueryState<&'static C, F>,
}

impl<C: Replicated, F: QueryFilter + Send + Sync + 'static> ComponentRule for Rule<C, F> {
    fn scan(&mut self, world: &World, f: &mut dyn FnMut(Entity, Tick)) {
        for (entity, c) in self.scan.iter(world) {
            f(entity, c.last_changed());
        }
    }

    fn write(&mut self, world: &World, entity: Entity, out: &mut FieldWriter<'_>) -> bool {
        match self.get.get(world, entity) {
            Ok(c) => {
                c.write(out);
                true
            }
            Err(_) => false,
        }
    }
}

type MakeRule = Box<dyn Fn(&mut World) -> Box<dyn ComponentRule> + Send + Sync>;

/// What a game replicates: the schema, and per component how to read it from a World.
pub struct Replication {
    schema: Schema,
    makers: Vec<MakeRule>,
}

impl std::fmt::Debug for Replication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replication")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl Replication {
    /// An empty registration for the game `game`.
    pub fn new(game: &str) -> Replication {
        Replication {
            schema: Schema {
                game: game.to_owned(),
                components: Vec::new(),
            },
            makers: Vec::new(),
        }
    }

    /// Replicates `C` on every entity with a [`NetId`] that has it.
    pub fn add<C: Replicated>(&mut self) -> &mut Self {
        self.add_filtered::<C, ()>()
    }

    /// Replicates `C` only on entities that also match `F` (say, `Without<Trajectory>`
    /// for a component another one stands in for on some entities).
    pub fn add_filtered<C: Replicated, F: QueryFilter + Send + Sync + 'static>(
        &mut self,
    ) -> &mut Self {
        self.schema.components.push(ComponentDef {
            name: C::NAME.to_owned(),
            fields: C::fields(),
        });
        self.makers.push(Box::new(|world: &mut World| {
            Box::new(Rule::<C, F> {
                scan: world.query_filtered::<(Entity, Ref<C>), (F, With<NetId>)>(),
                get: world.query_filtered::<&C, F>(),
            }) as Box<dyn ComponentRule>
        }));
        self
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The rules for one World, in schema order.
    pub fn rules(&self, world: &mut World) -> Vec<Box<dyn ComponentRule>> {
        self.makers.iter().map(|make| make(world)).collect()
    }
}
