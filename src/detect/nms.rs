//! Class-aware greedy non-maximum suppression.

use super::Candidate;

/// Indices of the kept candidates, best first. Candidates are visited by score (ties by index);
/// one is dropped when it overlaps a kept box of the same class with IoU above `iou`.
pub fn nms(cands: &[Candidate], iou: f32, max_keep: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| cands[b].score.total_cmp(&cands[a].score).then(a.cmp(&b)));
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        if keep.len() >= max_keep {
            break;
        }
        let c = &cands[i];
        if keep
            .iter()
            .all(|&k| cands[k].class_id != c.class_id || cands[k].bbox.iou(&c.bbox) <= iou)
        {
            keep.push(i);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BBox;

    fn c(x: f32, score: f32, class_id: usize) -> Candidate {
        Candidate {
            bbox: BBox::new(x, 0.0, x + 10.0, 10.0),
            score,
            class_id,
        }
    }

    #[test]
    fn suppresses_same_class_only() {
        let cands = [
            c(0.0, 0.9, 0),
            c(1.0, 0.8, 0),
            c(1.0, 0.7, 1),
            c(50.0, 0.6, 0),
        ];
        assert_eq!(nms(&cands, 0.5, 10), vec![0, 2, 3]);
    }

    #[test]
    fn respects_max_and_ties_by_index() {
        let cands = [c(0.0, 0.5, 0), c(100.0, 0.5, 0), c(200.0, 0.9, 0)];
        assert_eq!(nms(&cands, 0.5, 2), vec![2, 0]);
    }
}
