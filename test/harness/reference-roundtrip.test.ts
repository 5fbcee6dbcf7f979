// The client scenarios against the reference implementation. This proves the
// helpers themselves; the same scenarios later run against berth.
import { referenceRegistryAvailable, startReferenceRegistry } from '../helpers/reference-registry.js';
import { runClientScenarios } from '../helpers/scenarios.js';

// .ci/run installs docker-registry; without it this must fail loudly, not skip.
if (!referenceRegistryAvailable()) throw new Error('docker-registry (the reference implementation) is not installed: apt-get install -y docker-registry');
runClientScenarios(() => startReferenceRegistry(), { name: 'skopeo against the reference registry' });
