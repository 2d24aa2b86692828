/**
 * Diff-eRank, DESIGN §1 step 7:
 *
 *   diffErank = erankOfMeanEntropy(untrained) − erankOfMeanEntropy(trained)
 *   ratio     = erankOfMeanEntropy(trained) / erankOfMeanEntropy(untrained)
 *
 * Wei et al. 2024, "Diff-eRank: A Novel Rank-Based Metric for Evaluating Large Language Models"
 * (arXiv 2401.17139, NeurIPS 2024): a larger reduction in effective rank from the randomly initialised
 * to the trained model means more noise removed. The ratio removes the confound with hidden width d.
 */

export interface DiffErank {
  diffErank: number;
  ratio: number;
}

export function diffErank(
  untrained: { erankOfMeanEntropy: number | null },
  trained: { erankOfMeanEntropy: number | null },
): DiffErank {
  const u = untrained.erankOfMeanEntropy;
  const t = trained.erankOfMeanEntropy;
  if (u === null || t === null) {
    throw new Error(`Diff-eRank needs both models' erankOfMeanEntropy; ${u === null ? 'untrained' : 'trained'} has no used samples`);
  }
  return { diffErank: u - t, ratio: t / u };
}
