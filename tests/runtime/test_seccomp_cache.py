"""The compiled seccomp program kept on disk between processes."""

from runtime import seccomp


def test_cache_returns_what_libseccomp_builds(tmp_path):
    built = seccomp.build()
    assert seccomp._cached_build(tmp_path) == built
    [cached] = tmp_path.iterdir()
    assert cached.read_bytes().endswith(built)
    assert seccomp._cached_build(tmp_path) == built


def test_a_cache_file_with_another_key_is_rebuilt(tmp_path):
    seccomp._cached_build(tmp_path)
    [cached] = tmp_path.iterdir()
    cached.write_bytes(b"1.0.0 [another profile]\n" + b"\0" * 8)
    assert seccomp._cached_build(tmp_path) == seccomp.build()
    assert cached.read_bytes().endswith(seccomp.build())
