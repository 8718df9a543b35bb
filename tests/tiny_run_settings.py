"""Settings of a tiny benchmark run with two attack runs (C&W at κ=0 and BIM),
shared by the tests that run one on the fake preset (each adds its studies and
shard size)."""

TWO_ATTACK_RUNS = dict(
    n_images=6,
    methods=("enhanced_gbp", "saliency", "guided_backprop"),
    attacks=("cw", "bim"),
    kappas=(0.0,),
    sweep_kappas=(0.0,),
    cw_steps=20,
    cw_binary_search_steps=3,
    bim_epsilon=0.03,
    n_resamples=100,
    grid_images=2,
    progress=False,
)
