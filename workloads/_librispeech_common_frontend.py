"""Audio front end facts shared by both LibriSpeech families, over numpy.

Both models take raw 16 kHz waveforms and compute normalised log-mel features
inside the model (on the accelerator), exactly like the reference. The maths
that does not depend on the batch (frame indices, window, mel filterbank,
per-bin normalisation) is computed here once, in numpy, and handed to the JAX
and PyTorch front ends as constants, so the two frameworks cannot drift apart.

Settings follow the reference (lingvo-style): 25 ms frames (+1 sample for
pre-emphasis) every 10 ms, HTK-flavoured pre-emphasis 0.97, periodic Hann
window, 512-point FFT, power spectrum, 80 mel bins over 125-7600 Hz, log with
floor 1e-5, then per-bin mean/std normalisation with LibriSpeech statistics.
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
MAX_AUDIO_LENGTH = 320000  # samples (20 s); longer utterances are dropped at setup
MAX_TARGET_LENGTH = 256  # token slots per transcript (also the character cap at setup)
FRAME_STEP = 160  # 10 ms
FRAME_SIZE = 401  # 25 ms window + 1 sample consumed by pre-emphasis
FFT_SIZE = 512
NUM_MEL_BINS = 80
LOWER_EDGE_HZ = 125.0
UPPER_EDGE_HZ = 7600.0
PREEMPH = 0.97
LOG_FLOOR = 1e-5
INPUT_SCALE = 2.0**-15  # int16 PCM -> [-1, 1)

# Per-mel-bin statistics of LibriSpeech log-mel features (reference values).
MEAN_VECTOR = np.array([
    -7.6047816, -7.1206226, -6.8864245, -6.8705769, -6.9667721, -7.1084094, -6.9528027, -6.7839942,
    -6.6195521, -6.4876266, -6.412066, -6.3940477, -6.4244871, -6.3993711, -6.5158272, -6.7138,
    -6.8476877, -6.9885001, -6.9221387, -7.1461487, -7.2040401, -7.0537553, -7.3140383, -7.1223249,
    -7.3025141, -7.1212144, -7.2425733, -7.1730537, -7.0979414, -7.0887475, -6.9849911, -6.8787732,
    -6.7602754, -6.6300945, -6.5145769, -6.4245057, -6.3565135, -6.3178763, -6.266077, -6.2468328,
    -6.2821527, -6.1908388, -6.2484355, -6.147264, -6.0924726, -6.0171003, -5.9250402, -5.8535833,
    -5.8209109, -5.811893, -5.8078375, -5.7714629, -5.7453732, -5.7705655, -5.7765641, -5.7831674,
    -5.7954087, -5.7994823, -5.8023477, -5.8047118, -5.8168182, -5.88448, -5.9727106, -6.044466,
    -6.1284866, -6.2257586, -6.3157496, -6.3906116, -6.4928598, -6.5498457, -6.605432, -6.6508379,
    -6.6691761, -6.672689, -6.6842346, -6.6974578, -6.7547183, -6.7949142, -6.863421, -6.9418654,
], np.float32)
STD_VECTOR = np.array([
    3.4353282, 3.5962932, 3.7012472, 3.7369206, 3.7535105, 3.6936293, 3.6922498, 3.7641523,
    3.8419716, 3.8999848, 3.929424, 3.931741, 3.9139585, 3.9031599, 3.8692, 3.8155081,
    3.764497, 3.7099106, 3.6965086, 3.6003766, 3.5493226, 3.5465121, 3.450036, 3.4712813,
    3.4084611, 3.4408135, 3.4104881, 3.4217639, 3.4312851, 3.4199209, 3.4305806, 3.4382665,
    3.4580367, 3.4817991, 3.4958711, 3.5036793, 3.5047574, 3.4988735, 3.4930561, 3.4822943,
    3.4594305, 3.461277, 3.4559064, 3.4755423, 3.497155, 3.5326557, 3.5705199, 3.5920312,
    3.5969074, 3.5913501, 3.5865932, 3.5826809, 3.5837743, 3.5895791, 3.5819314, 3.583787,
    3.5861185, 3.588959, 3.5922148, 3.5939455, 3.5856631, 3.5884113, 3.5921023, 3.587049,
    3.580657, 3.5731068, 3.5617533, 3.5498073, 3.5527375, 3.5475366, 3.538785, 3.5256178,
    3.5031836, 3.4922726, 3.4879646, 3.4725595, 3.4558389, 3.4351828, 3.4284294, 3.4299171,
], np.float32)


def num_frames(num_samples: int) -> int:
    """Frames produced from ``num_samples`` samples (no end padding)."""
    return (num_samples - FRAME_SIZE) // FRAME_STEP + 1


def subsampled_length(num_samples: int) -> int:
    """Encoder time steps after the two stride-2 convolutions ('SAME' padding)."""
    t = num_frames(num_samples)
    for _ in range(2):
        t = (t + 1) // 2
    return t


@functools.lru_cache(maxsize=8)
def frame_indices(num_samples: int) -> np.ndarray:
    """[num_frames, FRAME_SIZE] sample indices of every analysis frame."""
    starts = np.arange(num_frames(num_samples)) * FRAME_STEP
    return (starts[:, None] + np.arange(FRAME_SIZE)[None, :]).astype(np.int32)


@functools.lru_cache(maxsize=1)
def hann_window() -> np.ndarray:
    """Periodic Hann window over the FRAME_SIZE - 1 pre-emphasised samples."""
    n = FRAME_SIZE - 1
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0)


@functools.lru_cache(maxsize=1)
def mel_matrix() -> np.ndarray:
    """[FFT_SIZE // 2 + 1, NUM_MEL_BINS] triangular filterbank (HTK, DC bin zeroed).

    Same construction as ``tf.signal.linear_to_mel_weight_matrix``, which the
    reference ports to both frameworks; computed in float64 then rounded.
    """
    num_bins = FFT_SIZE // 2 + 1
    freqs_mel = _hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2.0, num_bins)[1:])[:, None]
    edges = np.linspace(_hz_to_mel(LOWER_EDGE_HZ), _hz_to_mel(UPPER_EDGE_HZ),
                        NUM_MEL_BINS + 2)
    lower, center, upper = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    rising = (freqs_mel - lower) / (center - lower)
    falling = (upper - freqs_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(weights, ((1, 0), (0, 0))).astype(np.float32)


def logmel_numpy(audio: np.ndarray, paddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference-exact log-mel features in numpy (tests and offline checks).

    The framework front ends implement the same steps on device; this version
    is the oracle they are tested against.
    """
    audio = audio.astype(np.float64) * (1.0 - paddings) * INPUT_SCALE
    idx = frame_indices(audio.shape[1])
    frames = audio[:, idx]
    out_paddings = paddings[:, idx].min(axis=-1)
    emphasised = np.concatenate(
        [frames[..., :1] * (1.0 - PREEMPH), frames[..., 1:-1] - PREEMPH * frames[..., :-2]],
        axis=-1)
    spectrum = np.abs(np.fft.rfft(emphasised * hann_window(), FFT_SIZE, axis=-1)) ** 2
    mel = np.log(np.maximum(spectrum @ mel_matrix(), LOG_FLOOR))
    return ((mel - MEAN_VECTOR) / STD_VECTOR).astype(np.float32), out_paddings.astype(np.float32)
