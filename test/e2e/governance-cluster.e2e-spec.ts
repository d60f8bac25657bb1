import { describeReplicas } from './governance-replicas';

describeReplicas('postgres', 'cluster');
