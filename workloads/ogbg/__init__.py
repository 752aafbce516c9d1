"""ogbg-molpcba molecular property prediction with a GNN."""
