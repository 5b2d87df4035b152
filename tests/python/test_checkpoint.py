"""scripts/checkpoint.py reads what the trainer writes: the actor's actions on the probe
states it saved equal the trainer's own last probe snapshot (probes.csv), and a damaged
file is refused. Runs ./ddpg_cuda (built by make) on the CPU."""
import csv
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import checkpoint  # noqa: E402


class CheckpointReader(unittest.TestCase):
    EXTRA = []  # more options of the run

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.run_dir = os.path.join(cls.tmp.name, "run")
        subprocess.run([os.path.join(ROOT, "ddpg_cuda"), "--device", "cpu", "--quiet",
                        "--hidden", "32,16", "--batch-size", "32", "--start-steps", "400",
                        "--update-after", "400", "--total-steps", "1200", "--eval-every", "0",
                        "--probe-n", "6", "--probe-every", "1", "--out", cls.run_dir]
                       + cls.EXTRA, check=True, capture_output=True)
        cls.path = os.path.join(cls.run_dir, "checkpoint.bin")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_header_and_tensors(self):
        ck = checkpoint.load(self.path)
        self.assertEqual((ck.env, ck.algo), ("Pendulum-v1", "ddpg"))
        self.assertEqual((ck.obs_dim, ck.act_dim, ck.hidden), (3, 1, [32, 16]))
        self.assertFalse(ck.has_replay)
        self.assertEqual(ck.config["--hidden"], "32,16")
        self.assertEqual(int(ck.tensors["train.global_step"][0]), 1200)
        n_params = 32 * 3 + 32 + 16 * 32 + 16 + 16 + 1
        self.assertEqual(ck.tensors["actor.params"].shape, (n_params,))
        self.assertEqual(ck.tensors["actor.params"].dtype, np.float32)

    def test_actor_matches_the_trainers_last_probes(self):
        ck = checkpoint.load(self.path)
        obs = ck.tensors["probe.states.obs"].reshape(-1, 3)
        with open(os.path.join(self.run_dir, "probes.csv")) as f:
            rows = list(csv.DictReader(f))
        last = rows[-len(obs):]  # the snapshot at the end of the run, from the saved actor
        want = np.array([float(r["action"]) for r in last], dtype=np.float32)
        got = ck.act(obs)[:, 0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        self.assertGreater(np.ptp(want), 1e-3, "the probe actions hardly vary")

    def test_damaged_file_is_refused(self):
        with open(self.path, "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0x01
        bad = os.path.join(self.tmp.name, "bad.bin")
        with open(bad, "wb") as f:
            f.write(data)
        with self.assertRaisesRegex(checkpoint.CheckpointError, "checksum"):
            checkpoint.load(bad)
        out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "checkpoint.py"), bad],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 2)
        self.assertIn("checksum", out.stderr)


class CheckpointReaderTd3LayerNorm(CheckpointReader):
    """TD3 with LayerNorm: the actor's normalised layers (gain and shift after each hidden
    layer's W and b) give the trainer's actions too; the second critic is in the file."""
    EXTRA = ["--algo", "td3", "--layer-norm"]

    def test_header_and_tensors(self):
        ck = checkpoint.load(self.path)
        self.assertEqual((ck.env, ck.algo, ck.layer_norm), ("Pendulum-v1", "td3", True))
        n_params = 32 * 3 + 32 + 2 * 32 + 16 * 32 + 16 + 2 * 16 + 16 + 1
        self.assertEqual(ck.tensors["actor.params"].shape, (n_params,))
        self.assertIn("critic1.params", ck.tensors)
        self.assertEqual(ck.config["--algo"], "td3")


if __name__ == "__main__":
    unittest.main()
