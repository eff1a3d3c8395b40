//! A group task's mailbox: how the manager tells a running group to update or stop.
//!
//! A tokio `mpsc` channel per group cost about 1 KiB before any message was sent (its
//! cache-padded state and a first block of 32 slots): 100 MiB with 100,000 groups, for a
//! channel that carries a handful of messages in a group's life. The mailbox is a queue
//! behind a mutex and a [`Notify`], about a hundred bytes, with nothing allocated until a
//! message comes. It keeps what the manager relies on: messages arrive in order, a send to
//! a task that ended fails (and drops nothing it should not: the message is given back),
//! messages still queued when the task ends are dropped with it (a `Stop`'s reply sender
//! then tells the waiting manager), and the task sees the end of its mailbox when the
//! manager drops the sender.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

struct Shared<T> {
    state: Mutex<State<T>>,
    notify: Notify,
}

struct State<T> {
    queue: VecDeque<T>,
    /// The receiver is gone: sends fail.
    closed: bool,
    /// The sender is gone: the receiver ends once the queue is empty.
    sender_gone: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The manager's end.
pub struct Sender<T>(Arc<Shared<T>>);

/// The group task's end.
pub struct Receiver<T>(Arc<Shared<T>>);

/// A new, empty mailbox.
pub fn mailbox<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            closed: false,
            sender_gone: false,
        }),
        notify: Notify::new(),
    });
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    /// Queues `msg` for the task; gives it back if the task has ended.
    pub fn send(&self, msg: T) -> Result<(), T> {
        {
            let mut s = self.0.lock();
            if s.closed {
                return Err(msg);
            }
            s.queue.push_back(msg);
        }
        self.0.notify.notify_one();
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.notify.notify_one();
    }
}

impl<T> Receiver<T> {
    /// The next message; `None` once the sender is gone and every message was taken.
    /// Cancel-safe: the queue, not the wake-up, holds the messages, so dropping this
    /// future (in a `select!`) loses nothing.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            let woken = self.0.notify.notified();
            {
                let mut s = self.0.lock();
                if let Some(msg) = s.queue.pop_front() {
                    return Some(msg);
                }
                if s.sender_gone {
                    return None;
                }
            }
            woken.await;
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let left = {
            let mut s = self.0.lock();
            s.closed = true;
            std::mem::take(&mut s.queue)
        };
        // Dropped outside the lock: a message's own drop may do anything.
        drop(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn messages_arrive_in_order_then_the_end_after_the_sender_is_dropped() {
        let (tx, mut rx) = mailbox();
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(rx.recv().await, Some(1));
        let waiting = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(m) = rx.recv().await {
                got.push(m);
            }
            got
        });
        tx.send(3).unwrap();
        drop(tx);
        assert_eq!(
            waiting.await.unwrap(),
            [2, 3],
            "queued messages before the end"
        );
    }

    #[tokio::test]
    async fn a_send_to_an_ended_task_fails_and_queued_messages_are_dropped_with_it() {
        let (tx, rx) = mailbox();
        let (done, waiting) = oneshot::channel::<()>();
        tx.send(done).unwrap();
        drop(rx);
        assert!(
            waiting.await.is_err(),
            "the queued reply sender was dropped: a waiter is not left hanging"
        );
        let (done, _waiting) = oneshot::channel::<()>();
        assert!(tx.send(done).is_err(), "the message is given back");
    }

    #[tokio::test]
    async fn a_receive_abandoned_in_a_select_loses_no_message() {
        let (tx, mut rx) = mailbox();
        // Polled once (waiting, nothing queued), then dropped for the other branch.
        tokio::select! {
            biased;
            _ = rx.recv() => unreachable!("nothing sent yet"),
            _ = std::future::ready(()) => {}
        }
        tx.send("update").unwrap();
        tx.send("stop").unwrap();
        drop(tx);
        let mut got = Vec::new();
        while let Some(m) = rx.recv().await {
            got.push(m);
        }
        assert_eq!(got, ["update", "stop"]);
    }
}
