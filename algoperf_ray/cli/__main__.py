"""``python -m algoperf_ray.cli``: the same command line as ``algoperf-ray``."""

from algoperf_ray.cli import main

if __name__ == "__main__":
    main()
