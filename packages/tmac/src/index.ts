export {
  currentMachineKey,
  type KernelChoice,
  KernelChooser,
  type KernelChooserOptions,
  type TernaryKernel,
} from './kernel-chooser.js';
export { type LutLayout, layoutForShape } from './layout-for-shape.js';
export {
  type KernelTimer,
  type MeasureOptions,
  type MeasureShape,
  measureKernels,
} from './measure-kernels.js';
export {
  defaultProfilePath,
  type KernelProfile,
  type KernelTiming,
  loadProfile,
  saveProfile,
  TMAC_PROFILE_ENV,
} from './profile-store.js';
export { createTernaryLinear, LutScratchPool, type TernaryLinear } from './ternary-linear.js';
