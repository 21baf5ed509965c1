"""The reconnect delay: exponential backoff with full jitter, capped."""
import random
import unittest

from valtronics_client import Backoff


class MaxRandom(random.Random):
    """uniform(a, b) returns b: the bound itself."""

    def uniform(self, a, b):
        return b


class BackoffTest(unittest.TestCase):
    def test_bounds_double_up_to_the_cap(self):
        b = Backoff(base=0.5, cap=4, rng=MaxRandom())
        self.assertEqual([b.delay(n) for n in range(7)], [0.5, 1, 2, 4, 4, 4, 4])
        self.assertEqual(b.bound(10_000), 4)  # no overflow however long it retries

    def test_full_jitter_spreads_over_zero_to_the_bound(self):
        b = Backoff(base=1, cap=30, rng=random.Random(7))
        samples = [b.delay(3) for _ in range(2000)]  # bound 8
        self.assertGreaterEqual(min(samples), 0)
        self.assertLessEqual(max(samples), 8)
        # Full jitter: the whole window is used, not just its upper half ("equal jitter").
        self.assertLess(min(samples), 0.5)
        self.assertGreater(max(samples), 7.5)
        self.assertAlmostEqual(sum(samples) / len(samples), 4, delta=0.4)
        # Two clients with different random sources do not retry in lockstep.
        other = Backoff(base=1, cap=30, rng=random.Random(8))
        self.assertNotEqual([other.delay(3) for _ in range(5)], samples[:5])

    def test_invalid_settings(self):
        for base, cap in ((0, 1), (-1, 1), (2, 1)):
            with self.subTest(base=base, cap=cap), self.assertRaises(ValueError):
                Backoff(base, cap)
        with self.assertRaises(ValueError):
            Backoff().bound(-1)


if __name__ == "__main__":
    unittest.main()
