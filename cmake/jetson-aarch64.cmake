# Cross-compiling libspecula_cuda for Jetson (aarch64 Linux) on an x86-64 host.
# Needs: gcc/g++-aarch64-linux-gnu (Debian/Ubuntu packages of those names) and a CUDA toolkit
# with its aarch64 cross target (NVIDIA's cuda-cross-aarch64: <toolkit>/targets/aarch64-linux).
# The toolkit's version must match the Jetson's JetPack (11.4 for Xavier, 12.x for Orin).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_CUDA_HOST_COMPILER aarch64-linux-gnu-g++)
if(NOT DEFINED SPECULA_CUDA_TOOLKIT)
  set(SPECULA_CUDA_TOOLKIT /usr/local/cuda)
endif()
set(CMAKE_CUDA_COMPILER ${SPECULA_CUDA_TOOLKIT}/bin/nvcc)
# FindCUDAToolkit looks for the target's headers and libraries here.
set(CUDAToolkit_ROOT ${SPECULA_CUDA_TOOLKIT})
set(CMAKE_FIND_ROOT_PATH ${SPECULA_CUDA_TOOLKIT}/targets/aarch64-linux)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_CUDA_FLAGS_INIT "--target-directory aarch64-linux")
