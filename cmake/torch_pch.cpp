// Compiled only to carry the precompiled LibTorch header (see the top-level CMakeLists.txt).
