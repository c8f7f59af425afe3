from provisioner import platform


def test_the_seam_imports():
    assert platform.user_state_dir().endswith("oidc-lab")
