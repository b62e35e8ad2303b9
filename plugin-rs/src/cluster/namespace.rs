//! The objects of one namespace, each held under its name.
//!
//! Every pool instance holds every object, so names are held once: an
//! object's name is an `Rc<str>` in the entry that holds it (`Named`),
//! shared with the reverse indexes' keys and, for a service, with the
//! slices that name it. Services and imports are kept in name order, so
//! that a zone transfer can resume after any of them without sorting or
//! scanning (see `stanza::transfer`): a tree costs a query a few more
//! comparisons than a hash table, where a second, ordered copy of every
//! name would cost memory per object. The rest is looked up by name only.

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::ops::{Bound, Deref};
use std::rc::Rc;

use super::few::Few;
use super::objects::{Pod, Service, ServiceImport, Slice};
use super::seeded::{Map, Seeded, Set};

/// An object and the name it is held under. Sets of them are looked up by
/// name (`Borrow<str>`): they compare, order and hash as their names.
#[derive(Debug)]
pub struct Named<T> {
    pub name: Rc<str>,
    object: T,
}

impl<T> Named<T> {
    pub fn new(name: Rc<str>, object: T) -> Named<T> {
        Named { name, object }
    }
}

impl<T> Deref for Named<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.object
    }
}

impl<T> Borrow<str> for Named<T> {
    fn borrow(&self) -> &str {
        &self.name
    }
}

impl<T> PartialEq for Named<T> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl<T> Eq for Named<T> {}

impl<T> PartialOrd for Named<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Named<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name.cmp(&other.name)
    }
}

impl<T> Hash for Named<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        str::hash(&self.name, state);
    }
}

/// EndpointSlices by name, and the names of each service's slices.
#[derive(Debug)]
pub struct Slices {
    by_name: Set<Named<Slice>>,
    /// Slice names per service name, sorted so that answers have a stable
    /// order and transfers resume by name.
    of: Map<Rc<str>, Few<Rc<str>>>,
}

impl Slices {
    fn new(seed: Seeded) -> Slices {
        Slices { by_name: Set::with_hasher(seed), of: Map::with_hasher(seed) }
    }

    fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&Named<Slice>> {
        self.by_name.get(name)
    }

    /// The slices of `service` from the one named `first` on (every one
    /// when `first` is empty), by name.
    pub fn of<'a>(&'a self, service: &str, first: &str) -> impl Iterator<Item = &'a Named<Slice>> + 'a {
        let names = self.of.get(service).map_or(&[][..], Few::as_slice);
        // Iterated whole, which queries do, it costs no search for a start.
        let start = if first.is_empty() { 0 } else { names.partition_point(|n| &**n < first) };
        names[start..].iter().filter_map(|n| self.by_name.get(&**n))
    }

    /// Puts `slice` in place of any of its name; returns the one it
    /// replaced.
    fn insert(&mut self, slice: Named<Slice>) -> Option<Named<Slice>> {
        let (name, service) = (slice.name.clone(), slice.service.clone());
        let old = self.by_name.replace(slice);
        if let Some(old) = &old
            && old.service != service
        {
            self.leave(&old.service, &name);
        }
        match self.of.get_mut(&service) {
            Some(names) => names.add(&name),
            None => {
                self.of.insert(service, Few::One(name));
            }
        }
        old
    }

    fn remove(&mut self, name: &str) -> Option<Named<Slice>> {
        let old = self.by_name.take(name)?;
        self.leave(&old.service, &old.name);
        Some(old)
    }

    /// Takes slice `name` off the list of `service`.
    fn leave(&mut self, service: &str, name: &str) {
        if let Some(names) = self.of.get_mut(service)
            && !names.remove(|n| (**n).cmp(name))
        {
            self.of.remove(service);
        }
    }

    /// The name `service` as held here, when a slice names it.
    fn service_name(&self, service: &str) -> Option<&Rc<str>> {
        self.of.get_key_value(service).map(|(name, _)| name)
    }
}

/// ServiceImports and the slices of the services they import
/// (`multicluster`).
#[derive(Debug)]
struct Imported {
    imports: BTreeSet<Named<ServiceImport>>,
    slices: Slices,
}

/// Everything known in one namespace.
#[derive(Debug)]
pub struct Namespace {
    name: Rc<str>,
    /// The Namespace object itself exists (and passed `namespace_labels`).
    pub exists: bool,
    services: BTreeSet<Named<Service>>,
    slices: Slices,
    pods: Set<Named<Pod>>,
    /// Made with the first import or imported slice: most stanzas have
    /// none, and two empty tables cost every namespace their size.
    imported: Option<Box<Imported>>,
    seed: Seeded,
}

impl Namespace {
    pub fn new(name: Rc<str>, seed: Seeded) -> Namespace {
        Namespace {
            name,
            exists: false,
            services: BTreeSet::new(),
            slices: Slices::new(seed),
            pods: Set::with_hasher(seed),
            imported: None,
            seed,
        }
    }

    /// The namespace's name, shared with the index's keys.
    pub fn name(&self) -> &Rc<str> {
        &self.name
    }

    pub fn is_empty(&self) -> bool {
        !self.exists
            && self.services.is_empty()
            && self.slices.is_empty()
            && self.pods.is_empty()
            && self.imported.is_none()
    }

    pub fn service(&self, name: &str) -> Option<&Named<Service>> {
        self.services.get(name)
    }

    pub fn import(&self, name: &str) -> Option<&Named<ServiceImport>> {
        self.imported.as_ref()?.imports.get(name)
    }

    pub fn pod(&self, name: &str) -> Option<&Named<Pod>> {
        self.pods.get(name)
    }

    /// One of the cluster's own slices.
    pub fn slice(&self, name: &str) -> Option<&Named<Slice>> {
        self.slices.get(name)
    }

    /// Services in name order, from the one named `first` on.
    pub fn services_from<'a>(&'a self, first: &str) -> impl Iterator<Item = &'a Named<Service>> + 'a {
        self.services.range::<str, _>(keys_from(first))
    }

    /// Imports in name order, from the one named `first` on.
    pub fn imports_from<'a>(&'a self, first: &str) -> impl Iterator<Item = &'a Named<ServiceImport>> + 'a {
        self.imported.as_ref().map(|i| i.imports.range::<str, _>(keys_from(first))).into_iter().flatten()
    }

    /// The EndpointSlices of a service, by slice name.
    pub fn slices_for<'a>(&'a self, service: &str) -> impl Iterator<Item = &'a Named<Slice>> + 'a {
        self.slices.of(service, "")
    }

    /// The multi-cluster EndpointSlices of an imported service.
    pub fn mc_slices_for<'a>(&'a self, service: &str) -> impl Iterator<Item = &'a Named<Slice>> + 'a {
        self.slices_from(service, "", true)
    }

    /// The EndpointSlices of a service (`imported`: of an imported one)
    /// from the one named `first` on, by slice name.
    pub fn slices_from<'a>(
        &'a self,
        service: &str,
        first: &str,
        imported: bool,
    ) -> impl Iterator<Item = &'a Named<Slice>> + 'a {
        self.slices(imported).map(|s| s.of(service, first)).into_iter().flatten()
    }

    /// `name` as an `Rc` this namespace already holds (a service's name,
    /// or one its slices name), else a new one.
    pub fn share(&self, name: &str) -> Rc<str> {
        let held = self.services.get(name).map(|s| &s.name).or_else(|| self.slices.service_name(name));
        held.cloned().unwrap_or_else(|| name.into())
    }

    /// Holds `service`; returns the one it replaced.
    pub fn put_service(&mut self, service: Named<Service>) -> Option<Named<Service>> {
        self.services.replace(service)
    }

    pub fn take_service(&mut self, name: &str) -> Option<Named<Service>> {
        self.services.take(name)
    }

    pub fn put_pod(&mut self, pod: Named<Pod>) -> Option<Named<Pod>> {
        self.pods.replace(pod)
    }

    pub fn take_pod(&mut self, name: &str) -> Option<Named<Pod>> {
        self.pods.take(name)
    }

    pub fn put_import(&mut self, import: Named<ServiceImport>) -> Option<Named<ServiceImport>> {
        self.imported_mut().imports.replace(import)
    }

    pub fn take_import(&mut self, name: &str) -> Option<Named<ServiceImport>> {
        let taken = self.imported.as_mut()?.imports.take(name);
        self.tidy_imported();
        taken
    }

    /// Holds `slice` in the cluster's own slices or (`imported`) those of
    /// imported services; returns the one it replaced. Its service's name
    /// is shared with what holds it already.
    pub fn put_slice(&mut self, mut slice: Named<Slice>, imported: bool) -> Option<Named<Slice>> {
        if let Some(name) = self.services.get(&*slice.service).map(|s| &s.name) {
            slice.object.service = name.clone();
        }
        let slices = if imported { &mut self.imported_mut().slices } else { &mut self.slices };
        if let Some(name) = slices.service_name(&slice.service) {
            slice.object.service = name.clone();
        }
        slices.insert(slice)
    }

    pub fn take_slice(&mut self, name: &str, imported: bool) -> Option<Named<Slice>> {
        if !imported {
            return self.slices.remove(name);
        }
        let taken = self.imported.as_mut()?.slices.remove(name);
        self.tidy_imported();
        taken
    }

    /// The slice of this name among the cluster's own slices or
    /// (`imported`) those of imported services.
    pub fn held_slice(&self, name: &str, imported: bool) -> Option<&Named<Slice>> {
        self.slices(imported)?.get(name)
    }

    fn slices(&self, imported: bool) -> Option<&Slices> {
        if imported { self.imported.as_ref().map(|i| &i.slices) } else { Some(&self.slices) }
    }

    fn imported_mut(&mut self) -> &mut Imported {
        let seed = self.seed;
        self.imported.get_or_insert_with(|| Box::new(Imported { imports: BTreeSet::new(), slices: Slices::new(seed) }))
    }

    /// Drops the imported objects' tables once they hold nothing.
    fn tidy_imported(&mut self) {
        if self.imported.as_ref().is_some_and(|i| i.imports.is_empty() && i.slices.is_empty()) {
            self.imported = None;
        }
    }
}

/// Keys from `first` on, for ranges of sets ordered by name; every key
/// when `first` is empty, without comparing any.
fn keys_from(first: &str) -> (Bound<&str>, Bound<&str>) {
    let start = if first.is_empty() { Bound::Unbounded } else { Bound::Included(first) };
    (start, Bound::Unbounded)
}
