// SPDX-License-Identifier: MIT OR Apache-2.0

//! A small explicit-state model checker: breadth-first search over every interleaving of the
//! CPUs' atomic steps, with a visited set.
//!
//! Breadth first, so the first violation found comes with a shortest trace (the easiest one for a
//! reviewer to follow). Deterministic: successors are generated in a fixed order (CPU by CPU, as
//! the model lists them) and the hash set is only ever used for membership, never iterated.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::fmt::Debug;
use std::hash::Hash;

/// The properties the models check; a counterexample names the one it breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Property {
    /// A state with no enabled step in which some CPU has not finished.
    Deadlock,
    // VM ownership.
    /// No memory belongs to two live VMs.
    DisjointVms,
    /// No memory of a live VM is mapped in the host's stage-2.
    HostUnmapped,
    /// VM_LOAD copies only from memory the host owns.
    LoadFromHost,
    /// VM_CREATE answers BUSY only when no slot is free.
    BusyOnlyWhenFull,
    /// When every CPU is done, every slot, donation and lock is free and all memory is the host's.
    NoLeak,
    // PSCI relay.
    /// A CPU whose CPU_ON EL3 accepted comes back into the host, at that CPU_ON's entry.
    ComesBackOn,
    /// A pending power-down suspend's resume entry is never overwritten.
    ResumeEntryKept,
    /// A CPU_ON while another to the same CPU is in flight gets ALREADY_ON and changes nothing.
    SecondCpuOnAlreadyOn,
    // PMU reservation.
    /// The host's counters and the reserved ones never overlap, whatever runs.
    MasksDisjoint,
}

/// A broken property and what broke it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Violation {
    pub property: Property,
    pub detail: String,
}

impl Violation {
    pub fn new(property: Property, detail: impl Into<String>) -> Self {
        Self { property, detail: detail.into() }
    }
}

/// One atomic step of one CPU (or of the environment on a CPU's behalf: EL3 powering it up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    pub cpu: usize,
    /// What the step does, with the real code it stands for.
    pub what: &'static str,
}

/// A protocol as per-CPU step machines over one shared state.
pub trait Model {
    type State: Clone + Eq + Hash + Debug;

    fn init(&self) -> Self::State;
    /// Every enabled atomic step from `s`, in a fixed order, with the state it leads to.
    fn successors(&self, s: &Self::State, out: &mut Vec<(Step, Self::State)>);
    /// The safety properties that must hold in every reachable state.
    fn check(&self, s: &Self::State) -> Result<(), Violation>;
    /// Whether every CPU has finished its work (a state with no step that is not finished is a
    /// deadlock).
    fn finished(&self, s: &Self::State) -> bool;
    /// What a state with no step and unfinished CPUs means (by default, a plain deadlock).
    fn stuck(&self, s: &Self::State) -> Violation {
        Violation::new(Property::Deadlock, format!("no CPU can move: {s:?}"))
    }
    /// Properties of a finished state (no leaks).
    fn check_final(&self, _s: &Self::State) -> Result<(), Violation> {
        Ok(())
    }
}

/// What the search found.
#[derive(Debug)]
pub struct Outcome<S> {
    /// Distinct states reached (all of them when there is no violation).
    pub states: usize,
    pub transitions: usize,
    /// The first violation found, with the steps from the initial state that lead to it and the
    /// state it was found in.
    pub violation: Option<(Violation, Vec<Step>, S)>,
}

impl<S: Debug> Outcome<S> {
    /// The counterexample, one step per line, for test output and failure messages.
    pub fn trace(&self) -> String {
        let Some((v, steps, s)) = &self.violation else {
            return String::from("no violation");
        };
        let mut out = format!("{:?}: {}\n", v.property, v.detail);
        for (i, step) in steps.iter().enumerate() {
            out += &format!("  {i:3}. cpu{}: {}\n", step.cpu, step.what);
        }
        out += &format!("  in state {s:?}\n");
        out
    }
}

/// Explores every state reachable from `model.init()`, stopping at the first violation, or after
/// `limit` states (a guard against a model that grew by mistake: the search then panics).
pub fn explore<M: Model>(model: &M, limit: usize) -> Outcome<M::State> {
    explore_visiting(model, limit, &mut |_| {})
}

/// [`explore`], showing `visit` every state reached (for tests that the interesting situations
/// are reached at all: a model whose scripts never race proves nothing).
pub fn explore_visiting<M: Model>(model: &M, limit: usize, visit: &mut dyn FnMut(&M::State)) -> Outcome<M::State> {
    // Each state's index, the step that first reached it and its predecessor's index.
    let mut seen: HashMap<M::State, usize> = HashMap::new();
    let mut parent: Vec<Option<(usize, Step)>> = Vec::new();
    let mut queue = VecDeque::new();
    let mut transitions = 0;
    let trace = |parent: &[Option<(usize, Step)>], mut i: usize| {
        let mut steps = Vec::new();
        while let Some((p, step)) = parent[i] {
            steps.push(step);
            i = p;
        }
        steps.reverse();
        steps
    };
    let init = model.init();
    seen.insert(init.clone(), 0);
    parent.push(None);
    queue.push_back((init, 0));
    let mut next = Vec::new();
    while let Some((s, i)) = queue.pop_front() {
        let fail = |v: Violation, parent: &[Option<(usize, Step)>], s: &M::State, transitions| Outcome {
            states: parent.len(),
            transitions,
            violation: Some((v, trace(parent, i), s.clone())),
        };
        visit(&s);
        if let Err(v) = model.check(&s) {
            return fail(v, &parent, &s, transitions);
        }
        next.clear();
        model.successors(&s, &mut next);
        if next.is_empty() {
            let end = if model.finished(&s) { model.check_final(&s) } else { Err(model.stuck(&s)) };
            if let Err(v) = end {
                return fail(v, &parent, &s, transitions);
            }
        }
        for (step, t) in next.drain(..) {
            transitions += 1;
            if !seen.contains_key(&t) {
                let j = parent.len();
                assert!(j < limit, "more than {limit} states: the model is larger than intended");
                seen.insert(t.clone(), j);
                parent.push(Some((i, step)));
                queue.push_back((t, j));
            }
        }
    }
    Outcome { states: parent.len(), transitions, violation: None }
}

/// What the model tests share: the search bound, and the three kinds of assertion they make.
#[cfg(test)]
pub mod checks {
    use super::*;

    /// The most states a test search may visit (a guard against a model that grew by mistake).
    pub const LIMIT: usize = 2_000_000;

    /// A situation a search must reach, by name: whether CPU `i` is in it in a state.
    pub type Situation<'a, S> = (&'a str, &'a dyn Fn(&S, usize) -> bool);

    /// Every property holds in every reachable state of `model`.
    pub fn holds<M: Model>(label: &str, model: &M, name: &str) {
        let out = explore(model, LIMIT);
        println!("{label}, {name}: {} states, {} transitions", out.states, out.transitions);
        assert!(out.violation.is_none(), "{}", out.trace());
    }

    /// The search finds a counterexample, and it breaks one of `expected`.
    pub fn finds<M: Model>(label: &str, model: &M, bug: impl Debug, expected: &[Property]) {
        let out = explore(model, LIMIT);
        println!("{label}, {bug:?}: counterexample after {} states\n{}", out.states, out.trace());
        let (v, _, _) = out.violation.as_ref().expect("the defect is found");
        assert!(expected.contains(&v.property), "{}", out.trace());
    }

    /// The search, over `cpus` CPUs, reaches every one of `situations` and breaks nothing: a
    /// model whose scripts never race proves nothing.
    pub fn reaches<M: Model>(model: &M, cpus: usize, situations: &[Situation<'_, M::State>]) {
        let mut seen = vec![false; situations.len()];
        let out = explore_visiting(model, LIMIT, &mut |s| {
            for (n, (_, f)) in situations.iter().enumerate() {
                seen[n] |= (0..cpus).any(|i| f(s, i));
            }
        });
        assert!(out.violation.is_none(), "{}", out.trace());
        for (n, (name, _)) in situations.iter().enumerate() {
            assert!(seen[n], "never reached: {name}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two CPUs each incrementing a shared counter with a load and a store: the lost update must be
    /// found, and with the increment atomic every interleaving ends at 2.
    struct Counter {
        atomic: bool,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    struct S {
        value: u8,
        pc: [u8; 2],
        local: [u8; 2],
    }

    impl Model for Counter {
        type State = S;
        fn init(&self) -> S {
            S { value: 0, pc: [0; 2], local: [0; 2] }
        }
        fn successors(&self, s: &S, out: &mut Vec<(Step, S)>) {
            for cpu in 0..2 {
                let mut t = s.clone();
                match (s.pc[cpu], self.atomic) {
                    (0, true) => t.value += 1,
                    (0, false) => t.local[cpu] = s.value,
                    (1, false) => t.value = s.local[cpu] + 1,
                    _ => continue,
                }
                t.pc[cpu] = if self.atomic { 2 } else { s.pc[cpu] + 1 };
                out.push((Step { cpu, what: "step" }, t));
            }
        }
        fn check(&self, _: &S) -> Result<(), Violation> {
            Ok(())
        }
        fn finished(&self, s: &S) -> bool {
            s.pc == [2, 2]
        }
        fn check_final(&self, s: &S) -> Result<(), Violation> {
            if s.value == 2 { Ok(()) } else { Err(Violation::new(Property::NoLeak, "lost update")) }
        }
    }

    #[test]
    fn finds_a_lost_update_and_only_then() {
        let ok = explore(&Counter { atomic: true }, 100);
        assert!(ok.violation.is_none());
        assert_eq!(ok.states, 4);
        let bad = explore(&Counter { atomic: false }, 100);
        let (v, steps, _) = bad.violation.as_ref().expect("the lost update");
        assert_eq!(v.property, Property::NoLeak);
        assert_eq!(steps.len(), 4);
    }
}
