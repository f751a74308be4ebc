//! The book table's bookkeeping and what a book costs.

use super::*;

fn key(i: u64) -> u128 {
    // Keys are uniform hashes in the job; any spread-out value will do.
    u128::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) << 64 | u128::from(i)
}

fn open_n(books: &mut Books, n: u64) {
    for i in 0..n {
        let id = format!("o-{i}");
        books.open(key(i), i, [&id, "c-17", "AAPL"]);
        let (slot, _) = books.find_prefetch(key(i)).unwrap();
        assert!(books.add_purchase(slot, key(i + (1 << 40))));
    }
}

#[test]
fn a_book_is_found_by_its_key_until_it_closes() {
    let mut books = Books::default();
    open_n(&mut books, 10_000);
    for i in (0..10_000).step_by(3) {
        let slot = books.find(key(i)).unwrap();
        assert_eq!(books.str(books.strings[slot as usize].order_id), format!("o-{i}"));
        books.close(slot);
    }
    for i in 0..10_000 {
        assert_eq!(books.find(key(i)).is_some(), i % 3 != 0, "book {i}");
    }
    // Freed slots are reused under a new generation; the old handle is dead.
    let (slot, generation) = books.open(key(1 << 50), 0, ["o-new", "c", "s"]);
    assert_eq!(generation, 1);
    assert!(books.is_live(slot, 1) && !books.is_live(slot, 0));
    assert_eq!(books.find(key(1 << 50)), Some(slot));
    assert_eq!(books.open_count(), 10_000 - 3334 + 1);
}

#[test]
fn the_first_purchase_is_kept_only_until_the_request() {
    let mut books = Books::default();
    let (slot, _) = books.open(key(1), 0, ["o-1", "c", "s"]);
    assert!(books.add_purchase(slot, key(100)));
    books.set_first_purchase(slot, "p-1");
    assert!(books.add_purchase(slot, key(101)));
    books.set_first_purchase(slot, "p-2");
    assert_eq!(books.first_purchase(slot), "p-1");
    books.requested[slot as usize] = 10;
    books.forget_first_purchase(slot);
    assert_eq!(books.first_purchase(slot), "");
    assert!(books.first_purchase.is_empty());

    // An orphan's is dropped when it closes, and its slot reused clean.
    let (orphan, _) = books.open(key(2), 1, ["o-2", "c", "s"]);
    assert!(books.add_purchase(orphan, key(200)));
    books.set_first_purchase(orphan, "p-9");
    books.close(orphan);
    assert!(books.first_purchase.is_empty());
    let (again, _) = books.open(key(3), 2, ["o-3", "c", "s"]);
    assert_eq!(again, orphan);
    assert_eq!(books.first_purchase(again), "");
}

/// The per-book budget: the table's heap over its open books, purchase keys
/// apart (the "≤ 64 bytes plus its purchase ids" is what this moves
/// towards; bench.sh measures the whole process).
#[test]
fn an_open_book_costs_a_bounded_number_of_bytes() {
    // A power of two: the columns hold no growth slack (bench.sh measures
    // the process, slack included).
    let n = 1 << 18;
    let mut books = Books::default();
    open_n(&mut books, n);
    let (all, purchases) = books.heap_bytes();
    let per_book = (all - purchases) as f64 / n as f64;
    let ids = purchases as f64 / n as f64;
    eprintln!("per open book: {per_book:.1} bytes, purchase keys {ids:.1} bytes");
    // 76 bytes here: key 16, requested, filled and opening position 8 each,
    // order id offset 4 and its ~9 bytes with their length, client and stock
    // ids 4 each, generation 4, counted 1, index ~10.
    assert!(per_book <= 80.0, "{per_book:.1} bytes per book, purchases apart");
}
