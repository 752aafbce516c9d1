# algoperf-ray on NVIDIA GPUs: CUDA JAX and CUDA PyTorch with the reference's
# framework pins, for Slurm/Kubernetes clusters and the Ray launcher's `docker:`
# section (see README, "Run on a cluster").
#   docker build -t algoperf-ray:gpu .
#   docker run --gpus all --rm algoperf-ray:gpu algoperf-ray describe wmt --framework jax
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends software-properties-common \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv git rsync openssh-client \
    && rm -rf /var/lib/apt/lists/*

RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /opt/algoperf-ray
# Frameworks first (a cached layer): CUDA torch (the default Linux build) and CUDA
# JAX at the reference's pins; then the package itself.
COPY constraints/ constraints/
RUN pip install "torch==2.13.0" \
    && pip install -c constraints/reference-frameworks.txt "jax[cuda12]==0.7.0"
COPY . .
RUN pip install -c constraints/reference-frameworks.txt -e ".[all]" \
    && python -c "import algoperf_ray, jax, torch; print('frameworks:', jax.__version__, torch.__version__)"

# Ray's cluster launcher runs its own commands in this image; a plain run gets the CLI.
CMD ["algoperf-ray", "--help"]
