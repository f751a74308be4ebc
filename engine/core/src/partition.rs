//! Splitting a batch's rows into partitions by hash (a counting sort).

/// Row indices grouped by partition, each group in input order. Reused
/// across batches so partitioning allocates nothing once warm.
#[derive(Debug, Default)]
pub(crate) struct Partitioner {
    starts: Vec<usize>,
    rows: Vec<u32>,
    part_of: Vec<u32>,
    cursor: Vec<usize>,
}

impl Partitioner {
    /// Groups rows by `hash & (parts - 1)`; `parts` is a power of two.
    pub(crate) fn split(&mut self, hashes: &[u64], parts: usize) {
        debug_assert!(parts.is_power_of_two());
        let mask = (parts - 1) as u64;
        self.starts.clear();
        self.starts.resize(parts + 1, 0);
        self.part_of.clear();
        for &h in hashes {
            // Mix the high bits in: a job may hand us hashes whose low bits
            // are weak (e.g. sequential ids).
            let p = ((h ^ (h >> 29) ^ (h >> 47)) & mask) as u32;
            self.part_of.push(p);
            self.starts[p as usize + 1] += 1;
        }
        for i in 0..parts {
            self.starts[i + 1] += self.starts[i];
        }
        self.rows.clear();
        self.rows.resize(hashes.len(), 0);
        self.cursor.clear();
        self.cursor.extend_from_slice(&self.starts[..parts]);
        for (row, &p) in self.part_of.iter().enumerate() {
            let at = &mut self.cursor[p as usize];
            self.rows[*at] = row as u32;
            *at += 1;
        }
    }

    /// The rows of each partition, in partition order.
    #[cfg(test)]
    pub(crate) fn parts(&self) -> impl Iterator<Item = &[u32]> + '_ {
        (0..self.starts.len().saturating_sub(1)).map(|p| self.part(p))
    }

    /// The rows `0..n` as one partition.
    pub(crate) fn identity(&mut self, n: usize) -> &[u32] {
        if self.rows.len() != n || self.starts.len() != 2 {
            self.rows.clear();
            self.rows.extend(0..n as u32);
            self.starts.clear();
            self.starts.extend([0, n]);
        }
        &self.rows
    }

    /// The rows of partition `p`, in input order.
    pub(crate) fn part(&self, p: usize) -> &[u32] {
        &self.rows[self.starts[p]..self.starts[p + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_once_in_order_within_its_partition() {
        let hashes: Vec<u64> = (0..1000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        for parts in [1, 2, 8, 128] {
            let mut p = Partitioner::default();
            p.split(&hashes, parts);
            let groups: Vec<&[u32]> = p.parts().collect();
            assert_eq!(groups.len(), parts);
            let mut all: Vec<u32> = groups.iter().flat_map(|g| g.iter().copied()).collect();
            for g in &groups {
                assert!(g.windows(2).all(|w| w[0] < w[1]));
            }
            all.sort_unstable();
            assert_eq!(all, (0..1000).collect::<Vec<u32>>());
        }
    }
}
