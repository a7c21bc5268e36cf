//! Minimum-cost assignment (Hungarian method with potentials, O(n²m)).

/// Assigns rows to columns minimising the total cost; pairs whose cost exceeds `max_cost`
/// are left unassigned. Returns (row, col) pairs.
pub fn assign(cost: &[Vec<f64>], max_cost: f64) -> Vec<(usize, usize)> {
    let rows = cost.len();
    let cols = cost.first().map_or(0, |r| r.len());
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    // Square matrix padded with a cost that is worse than any allowed pair but finite.
    let n = rows.max(cols);
    let big = max_cost + 1.0;
    let c = |i: usize, j: usize| -> f64 {
        if i < rows && j < cols && cost[i][j] <= max_cost {
            cost[i][j]
        } else {
            big
        }
    };
    let inf = f64::INFINITY;
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let (mut p, mut way) = (vec![0usize; n + 1], vec![0usize; n + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let (mut delta, mut j1) = (inf, 0);
            for j in 1..=n {
                if !used[j] {
                    let cur = c(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = Vec::new();
    for j in 1..=n {
        let i = p[j];
        if i >= 1 && i <= rows && j <= cols && cost[i - 1][j - 1] <= max_cost {
            out.push((i - 1, j - 1));
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_global_optimum_not_the_greedy_one() {
        // Greedy takes (0,0)=1 then (1,1)=10: 11. Optimal: (0,1)=2 + (1,0)=2 = 4.
        let cost = vec![vec![1.0, 2.0], vec![2.0, 10.0]];
        assert_eq!(assign(&cost, 100.0), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn rectangular_and_gated() {
        let cost = vec![vec![0.9, 0.1, 0.5]];
        assert_eq!(assign(&cost, 1.0), vec![(0, 1)]);
        let cost = vec![vec![0.9], vec![0.95], vec![0.2]];
        assert_eq!(assign(&cost, 0.5), vec![(2, 0)]);
        assert!(assign(&[vec![0.9, 0.95]], 0.5).is_empty());
    }
}
