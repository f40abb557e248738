//! Topics (uWebSockets' pub/sub): which clients are subscribed to what, both ways, so that
//! publishing finds the subscribers at once and a leaving client is unsubscribed from
//! everything.

// The crate is no_std; this layer is std-only.
#[allow(unused_imports)]
use std::{borrow::ToOwned, boxed::Box, format, string::String, vec, vec::Vec};

use std::collections::{HashMap, HashSet};

use super::ClientId;

#[derive(Debug, Default)]
pub(crate) struct Topics {
    by_topic: HashMap<String, HashSet<ClientId>>,
    by_client: HashMap<ClientId, HashSet<String>>,
}

impl Topics {
    /// Whether it is a new subscription.
    pub(crate) fn subscribe(&mut self, id: ClientId, topic: &str) -> bool {
        let added = self
            .by_topic
            .entry(topic.to_owned())
            .or_default()
            .insert(id);
        if added {
            self.by_client
                .entry(id)
                .or_default()
                .insert(topic.to_owned());
        }
        added
    }

    /// Whether it was subscribed.
    pub(crate) fn unsubscribe(&mut self, id: ClientId, topic: &str) -> bool {
        let removed = match self.by_topic.get_mut(topic) {
            Some(ids) => {
                let removed = ids.remove(&id);
                if ids.is_empty() {
                    self.by_topic.remove(topic);
                }
                removed
            }
            None => false,
        };
        if let Some(topics) = self.by_client.get_mut(&id) {
            topics.remove(topic);
            if topics.is_empty() {
                self.by_client.remove(&id);
            }
        }
        removed
    }

    /// Unsubscribes a client from everything; the topics it left, with how many subscribers
    /// each has now.
    pub(crate) fn remove_client(&mut self, id: ClientId) -> Vec<(String, usize)> {
        let mut left = Vec::new();
        for topic in self.by_client.remove(&id).unwrap_or_default() {
            if let Some(ids) = self.by_topic.get_mut(&topic) {
                ids.remove(&id);
                let count = ids.len();
                if count == 0 {
                    self.by_topic.remove(&topic);
                }
                left.push((topic, count));
            }
        }
        left
    }

    /// The subscribers of a topic.
    pub(crate) fn subscribers(&self, topic: &str) -> Vec<ClientId> {
        self.by_topic
            .get(topic)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }

    /// How many clients are subscribed to a topic.
    pub(crate) fn count(&self, topic: &str) -> usize {
        self.by_topic.get(topic).map_or(0, HashSet::len)
    }

    /// A client's topics.
    pub(crate) fn of(&self, id: ClientId) -> Vec<String> {
        self.by_client
            .get(&id)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways() {
        let mut t = Topics::default();
        let (a, b) = (ClientId(1), ClientId(2));
        assert!(t.subscribe(a, "x"));
        assert!(!t.subscribe(a, "x"));
        assert!(t.subscribe(b, "x"));
        assert!(t.subscribe(a, "y"));
        assert_eq!(t.count("x"), 2);
        let mut left = t.remove_client(a);
        left.sort();
        assert_eq!(left, vec![("x".to_owned(), 1), ("y".to_owned(), 0)]);
        assert_eq!(t.subscribers("x"), vec![b]);
        assert_eq!(t.count("y"), 0);
        assert!(t.unsubscribe(b, "x"));
        assert!(!t.unsubscribe(b, "x"));
        assert!(t.by_topic.is_empty() && t.by_client.is_empty());
    }
}
